"""The manifest of a cached model: every file's relative path, size and sha256.

Written once, when a model is installed; read on every cache hit for a cheap check
(existence and size) and by ``tfhub cache verify`` for a full sha256 check.

Example:
    >>> import tempfile, pathlib
    >>> d = tempfile.mkdtemp(); _ = pathlib.Path(d, "a.pb").write_bytes(b"xyz")
    >>> m = Manifest.scan(d, handle="demo")
    >>> [(e.path, e.size) for e in m.entries], m.quick_problems(d)
    ([('a.pb', 3)], [])
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a model. ``link`` is set (and ``sha256`` empty) for a symlink."""

    path: str
    size: int
    sha256: str
    link: str | None = None


@dataclass
class Manifest:
    """What an installed model must contain."""

    handle: str
    entries: list[ManifestEntry]
    source: str = ""
    archive_sha256: str = ""
    archive_bytes: int = 0
    installed_at: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["version"] = FORMAT_VERSION
        data["entries"] = [
            [e.path, e.size, e.sha256] + ([e.link] if e.link is not None else [])
            for e in self.entries
        ]
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.pop("version", None) != FORMAT_VERSION:
            raise ValueError("unknown manifest version")
        entries = [ManifestEntry(*row) for row in data.pop("entries")]
        return cls(entries=entries, **data)

    @classmethod
    def scan(cls, root: str, *, handle: str) -> Manifest:
        """Builds a manifest by reading every file under ``root`` (used for tests and repair)."""
        entries = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames) + [
                d for d in dirnames if os.path.islink(os.path.join(dirpath, d))
            ]:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                if os.path.islink(full):
                    entries.append(ManifestEntry(rel, 0, "", link=os.readlink(full)))
                else:
                    entries.append(ManifestEntry(rel, os.path.getsize(full), sha256_file(full)))
        return cls(handle=handle, entries=entries)

    def quick_problems(self, root: str) -> list[str]:
        """Files that are missing or whose size changed (one ``stat`` per file)."""
        problems = []
        for entry in self.entries:
            full = os.path.join(root, entry.path)
            try:
                st = os.lstat(full)
            except OSError:
                problems.append(f"{entry.path}: missing")
                continue
            if entry.link is None and st.st_size != entry.size:
                problems.append(f"{entry.path}: {st.st_size} bytes, expected {entry.size}")
        return problems

    def full_problems(self, root: str) -> list[str]:
        """:meth:`quick_problems` plus a sha256 of every file and a readlink of every link."""
        problems = self.quick_problems(root)
        damaged = {p.split(":", 1)[0] for p in problems}
        for entry in self.entries:
            if entry.path in damaged:
                continue
            full = os.path.join(root, entry.path)
            if entry.link is not None:
                if not os.path.islink(full) or os.readlink(full) != entry.link:
                    problems.append(f"{entry.path}: link changed")
            elif os.path.islink(full) or not os.path.isfile(full):
                problems.append(f"{entry.path}: replaced by something that is not a file")
            elif sha256_file(full) != entry.sha256:
                problems.append(f"{entry.path}: content changed (sha256 mismatch)")
        return problems


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
