"""Safe streaming extraction of untrusted archives (``tfhub.core.archive``), against real tars.

Every hostile case checks three things: the right error (naming the member and the handle),
and that nothing changed anywhere outside the destination directory.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import stat
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import zstandard

from support.archives import (
    compress,
    dir_member,
    file_member,
    link_member,
    model_archive,
    special_member,
    tar_bytes,
)
from tfhub.core.archive import Limits, detect_compression, extract_archive
from tfhub.core.manifest import Manifest, ManifestEntry
from tfhub.errors import DownloadError, NotAnArchiveError, UnsafeArchiveError

LABEL = "https://hub.example/google/bert/1"
COMPRESSIONS = ["gz", "zst", "none"]
Member = tuple[tarfile.TarInfo, bytes | None]


# -- Helpers ------------------------------------------------------------------------------


@dataclass
class Layout:
    """``tmp/work/dest`` (extracted into), with neighbours that must never change."""

    root: Path
    dest: Path
    outside: Path

    def state(self) -> dict[str, str]:
        """Everything under ``root`` except ``dest``: kind, link target or content hash."""
        seen: dict[str, str] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            if Path(dirpath) == self.dest or self.dest in Path(dirpath).parents:
                continue
            for name in dirnames + filenames:
                path = Path(dirpath, name)
                if path == self.dest:
                    continue
                seen[str(path.relative_to(self.root))] = _describe(path)
        return seen


def _describe(path: Path) -> str:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return f"link:{os.readlink(path)}"
    if stat.S_ISDIR(st.st_mode):
        return f"dir:{stat.S_IMODE(st.st_mode):o}"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"file:{stat.S_IMODE(st.st_mode):o}:{st.st_nlink}:{digest}"


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` (relative, ``/``-separated) described by :func:`_describe`."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            found[path.relative_to(root).as_posix()] = _describe(path)
    return found


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Layout]:
    work = tmp_path / "work"
    dest = work / "dest"
    dest.mkdir(parents=True)
    (work / "sibling").mkdir()
    (work / "sibling" / "keep.txt").write_bytes(b"sibling data")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"do not touch")
    (outside / "sub").mkdir()
    lay = Layout(tmp_path, dest, outside)
    before = lay.state()
    yield lay
    assert lay.state() == before, "something outside the destination changed"


def extract(data: bytes, dest: Path, **kwargs: object) -> list[ManifestEntry]:
    return extract_archive(io.BytesIO(data), str(dest), label=LABEL, **kwargs)  # type: ignore[arg-type]


def refused(data: bytes, dest: Path, member: str, **kwargs: object) -> str:
    """Extracts ``data``, expecting :class:`UnsafeArchiveError` naming ``member``."""
    with pytest.raises(UnsafeArchiveError) as info:
        extract(data, dest, **kwargs)
    message = str(info.value)
    assert repr(member) in message
    assert LABEL in message
    return message


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_of(
    members: Sequence[Member], *, fmt: int = tarfile.PAX_FORMAT, compression: str = "gz"
) -> bytes:
    """Like ``support.archives.tar_bytes`` with a choice of tar format."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return compress(raw.getvalue(), compression)


def header(info: tarfile.TarInfo, fmt: int = tarfile.GNU_FORMAT) -> bytes:
    return info.tobuf(fmt, "utf-8", "surrogateescape")


def member_info(name: str, kind: bytes = tarfile.REGTYPE, *, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o644
    return info


def pax_member(name: str, pax: dict[str, str], data: bytes | None = b"x") -> Member:
    info = tarfile.TarInfo(name)
    info.pax_headers = pax
    if data is None:
        info.type = tarfile.DIRTYPE
    return info, data


END = bytes(1024)
ONE_MIB_ZEROS = bytes(1 << 20)


def random_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


# -- Well-formed archives -----------------------------------------------------------------


MODEL_FILES = {
    "saved_model.pb": b"\x08\x01" + bytes(range(256)) * 4,
    "variables/variables.index": b"index" * 20,
    "variables/variables.data-00000-of-00001": bytes(4096),
    "assets/..vocab.txt": b"hello\nworld\n",
}


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("with_dirs", [True, False], ids=["dirs", "no-dirs"])
def test_extracts_a_model_archive(layout: Layout, compression: str, with_dirs: bool) -> None:
    entries = extract(model_archive(compression, with_dirs=with_dirs), layout.dest)

    assert entries == [ManifestEntry(p, len(d), sha(d)) for p, d in MODEL_FILES.items()]
    for path, data in MODEL_FILES.items():
        assert (layout.dest / path).read_bytes() == data
    assert tree(layout.dest) == {
        "assets": "dir:755",
        "variables": "dir:755",
        **{p: f"file:644:1:{sha(d)}" for p, d in MODEL_FILES.items()},
    }


def test_manifest_agrees_with_a_scan_of_the_files(layout: Layout) -> None:
    entries = extract(model_archive("zst", size=300_000), layout.dest)

    scanned = Manifest.scan(str(layout.dest), handle=LABEL)
    assert sorted(entries, key=lambda e: e.path) == sorted(scanned.entries, key=lambda e: e.path)
    manifest = Manifest(handle=LABEL, entries=entries)
    assert manifest.full_problems(str(layout.dest)) == []


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("..vocab.txt", "..vocab.txt"),
        ("a/..b", "a/..b"),
        ("...", "..."),
        ("a/b..", "a/b.."),
        (".hidden", ".hidden"),
        ("./x.txt", "x.txt"),
        ("a//b/./c", "a/b/c"),
        ("dir/", "dir"),  # a regular file written with a trailing slash
        ("ünïcode/名前.txt", "ünïcode/名前.txt"),
    ],
)
def test_names_that_merely_look_odd_are_legal(layout: Layout, name: str, path: str) -> None:
    entries = extract(tar_bytes([file_member(name, b"data")]), layout.dest)

    assert entries == [ManifestEntry(path, 4, sha(b"data"))]
    assert (layout.dest / path).read_bytes() == b"data"


def test_large_files_are_hashed_across_chunks(layout: Layout) -> None:
    data = random_bytes(3 * (1 << 20) + 12_345)
    entries = extract(tar_bytes([file_member("big.bin", data)], "zst"), layout.dest)

    assert entries == [ManifestEntry("big.bin", len(data), sha(data))]
    assert (layout.dest / "big.bin").read_bytes() == data


def test_progress_callback_sees_every_byte(layout: Layout) -> None:
    seen: list[int] = []
    data = random_bytes(2 * (1 << 20) + 7)
    extract(
        tar_bytes([file_member("a", data), file_member("b", b"xyz")]),
        layout.dest,
        on_file=seen.append,
    )

    assert sum(seen) == len(data) + 3
    assert max(seen) <= 1 << 20


@pytest.mark.parametrize(
    "fmt",
    [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
    ids=["ustar", "gnu", "pax"],
)
def test_plain_tar_is_detected_by_content(layout: Layout, fmt: int) -> None:
    data = tar_of(
        [dir_member("m"), file_member("m/saved_model.pb", b"pb")], fmt=fmt, compression="none"
    )

    assert detect_compression(data[:512]) == "tar"
    entries = extract(data, layout.dest)
    assert entries == [ManifestEntry("m/saved_model.pb", 2, sha(b"pb"))]


def test_concatenated_gzip_members(layout: Layout) -> None:
    raw = tar_of(
        [file_member("a.bin", random_bytes(5000)), file_member("b.bin", b"b" * 700)],
        compression="none",
    )
    cuts = [0, 300, 2000, 5500, len(raw)]
    data = b"".join(gzip.compress(raw[i:j]) for i, j in pairwise(cuts))

    entries = extract(data, layout.dest)
    assert [e.path for e in entries] == ["a.bin", "b.bin"]
    assert entries[0].sha256 == sha(random_bytes(5000))


def test_multi_frame_zstd(layout: Layout) -> None:
    raw = tar_of(
        [file_member("a.bin", random_bytes(5000)), file_member("b.bin", b"b" * 700)],
        compression="none",
    )
    compressor = zstandard.ZstdCompressor(level=3, write_checksum=True)
    data = b"".join(compressor.compress(raw[i : i + 1000]) for i in range(0, len(raw), 1000))

    entries = extract(data, layout.dest)
    assert entries == [
        ManifestEntry("a.bin", 5000, sha(random_bytes(5000))),
        ManifestEntry("b.bin", 700, sha(b"b" * 700)),
    ]


LONG_DIR = "/".join(["d" * 60] * 5)


def test_pax_long_names_and_link_targets(layout: Layout) -> None:
    name = f"{LONG_DIR}/{'f' * 150}.txt"
    data = tar_of([file_member(name, b"long"), link_member("short", name)], fmt=tarfile.PAX_FORMAT)

    assert b"PaxHeader" in gzip.decompress(data)
    entries = extract(data, layout.dest)
    assert entries == [
        ManifestEntry(name, 4, sha(b"long")),
        ManifestEntry("short", 0, "", link=name),
    ]
    assert (layout.dest / "short").read_bytes() == b"long"


def test_gnu_long_names_and_link_targets(layout: Layout) -> None:
    name = f"{LONG_DIR}/{'g' * 150}.txt"
    data = tar_of([file_member(name, b"long"), link_member("short", name)], fmt=tarfile.GNU_FORMAT)

    assert b"././@LongLink" in gzip.decompress(data)
    entries = extract(data, layout.dest)
    assert entries == [
        ManifestEntry(name, 4, sha(b"long")),
        ManifestEntry("short", 0, "", link=name),
    ]


def test_pax_size_overrides_the_header(layout: Layout) -> None:
    data = random_bytes(1000)
    info, _ = pax_member("a.bin", {"size": "1000", "mtime": "1.5", "SCHILY.xattr.user.x": "y"})
    info.size = len(data)
    entries = extract(tar_of([(info, data), file_member("b", b"b")]), layout.dest)

    assert entries == [ManifestEntry("a.bin", 1000, sha(data)), ManifestEntry("b", 1, sha(b"b"))]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
def test_modes_are_normalised(layout: Layout, umask: int) -> None:
    members = [
        file_member("suid", b"x", mode=0o4755),
        file_member("sgid_world", b"x", mode=0o6777),
        file_member("world_writable", b"x", mode=0o666),
        file_member("private", b"x", mode=0o600),
        file_member("nothing", b"x", mode=0o000),
        file_member("owner_exec", b"x", mode=0o700),
        file_member("sticky", b"x", mode=0o1644),
    ]
    locked = tarfile.TarInfo("locked")
    locked.type, locked.mode = tarfile.DIRTYPE, 0o000
    wide = tarfile.TarInfo("wide")
    wide.type, wide.mode = tarfile.DIRTYPE, 0o777
    members += [(locked, None), file_member("locked/inside", b"x"), (wide, None)]
    old = os.umask(umask)
    try:
        extract(tar_bytes(members), layout.dest)
    finally:
        os.umask(old)

    modes = {p: d.split(":")[1] for p, d in tree(layout.dest).items()}
    assert modes == {
        "suid": "755",
        "sgid_world": "755",
        "world_writable": "644",
        "private": "644",
        "nothing": "644",
        "owner_exec": "755",
        "sticky": "644",
        "locked": "755",
        "locked/inside": "644",
        "wide": "755",
    }


def test_symlinks_inside_the_model_are_kept(layout: Layout) -> None:
    members = [
        file_member("saved_model.pb", b"pb"),
        link_member("alias.pb", "saved_model.pb"),
        link_member("assets/up.pb", "../saved_model.pb"),
        link_member("a/b/top", "../.."),
        link_member("here", "."),
        link_member("dangling", "not/there"),
    ]
    entries = extract(tar_bytes(members), layout.dest)

    links = {e.path: e.link for e in entries if e.link is not None}
    assert links == {
        "alias.pb": "saved_model.pb",
        "assets/up.pb": "../saved_model.pb",
        "a/b/top": "../..",
        "here": ".",
        "dangling": "not/there",
    }
    assert (layout.dest / "assets/up.pb").read_bytes() == b"pb"
    assert os.path.realpath(layout.dest / "a/b/top") == str(layout.dest)
    for path in links:
        assert os.path.realpath(layout.dest / path).startswith(str(layout.dest))


def test_duplicate_members_last_one_wins(layout: Layout) -> None:
    members = [
        dir_member("d"),
        file_member("d/a", b"first"),
        dir_member("d"),
        file_member("d/a", b"second!"),
        file_member("b", b"x"),
        link_member("b", "d/a"),
    ]
    entries = extract(tar_bytes(members), layout.dest)

    assert entries == [
        ManifestEntry("d/a", 7, sha(b"second!")),
        ManifestEntry("b", 0, "", link="d/a"),
    ]
    assert tree(layout.dest) == {
        "d": "dir:755",
        "d/a": f"file:644:1:{sha(b'second!')}",
        "b": "link:d/a",
    }


def test_a_member_replaces_a_symlink_without_following_it(layout: Layout) -> None:
    members = [
        file_member("real.txt", b"original"),
        link_member("l", "real.txt"),
        file_member("l", b"new"),
    ]
    entries = extract(tar_bytes(members), layout.dest)

    assert entries == [
        ManifestEntry("real.txt", 8, sha(b"original")),
        ManifestEntry("l", 3, sha(b"new")),
    ]
    assert not (layout.dest / "l").is_symlink()
    assert (layout.dest / "real.txt").read_bytes() == b"original"


def test_hard_links_inside_the_model(layout: Layout) -> None:
    members = [
        file_member("a", b"shared"),
        link_member("b", "a", hard=True),
        link_member("./sub/c", "./a", hard=True),
        file_member("a", b"replaced later"),
    ]
    entries = extract(tar_bytes(members), layout.dest)

    assert entries == [
        ManifestEntry("b", 6, sha(b"shared")),
        ManifestEntry("sub/c", 6, sha(b"shared")),
        ManifestEntry("a", 14, sha(b"replaced later")),
    ]
    assert (layout.dest / "b").stat().st_ino == (layout.dest / "sub/c").stat().st_ino
    assert (layout.dest / "b").stat().st_nlink == 2
    assert (layout.dest / "b").read_bytes() == b"shared"


def test_padding_after_the_end_marker_is_accepted(layout: Layout) -> None:
    raw = tar_of([file_member("a", b"a")], compression="none") + bytes(100_000)
    assert extract(compress(raw, "zst"), layout.dest) == [ManifestEntry("a", 1, sha(b"a"))]


class RecordingStream:
    """A non-seekable, nameless stream (only ``read``) that records how it is read."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data = io.BytesIO(data)
        self._fail_after = fail_after
        self.requests: list[int] = []
        self.at_eof = False

    def read(self, size: int = -1) -> bytes:
        self.requests.append(size)
        if self._fail_after is not None and self._data.tell() >= self._fail_after:
            raise StreamBroke("connection reset")
        chunk = self._data.read(size)
        self.at_eof = self.at_eof or (size > 0 and not chunk)
        return chunk


class StreamBroke(DownloadError):
    """Stands for the download's own errors (e.g. ``RestartNeededError``)."""


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_stream_is_read_once_in_bounded_chunks_to_the_end(layout: Layout, compression: str) -> None:
    data = tar_bytes([file_member("big", random_bytes(5 << 20))], compression)
    stream = RecordingStream(data)

    extract_archive(stream, str(layout.dest), label=LABEL)  # type: ignore[arg-type]
    assert stream.at_eof
    assert all(0 < n <= 1 << 20 for n in stream.requests), sorted(set(stream.requests))


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_errors_of_the_stream_propagate_unchanged(layout: Layout, compression: str) -> None:
    data = tar_bytes([file_member("big", random_bytes(3 << 20))], compression)
    stream = RecordingStream(data, fail_after=len(data) // 2)

    with pytest.raises(StreamBroke, match="connection reset"):
        extract_archive(stream, str(layout.dest), label=LABEL)  # type: ignore[arg-type]


# -- Hostile names and links --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("{outside}/abs.txt", "absolute path"),
        ("//{outside}/abs.txt", "absolute path"),
        ("../escape.txt", "'..'"),
        ("../../outside/escape.txt", "'..'"),
        ("a/../../escape.txt", "'..'"),
        ("a/../b.txt", "'..'"),
        ("..", "'..'"),
        ("a/..", "'..'"),
        ("C:/x.txt", "absolute path"),
        ("C:x.txt", "absolute path"),
        ("a\\..\\..\\x.txt", "backslash"),
        ("x" * 256, "component longer than 255"),
        ("a/" * 2100, "longer than 4096"),
    ],
)
@pytest.mark.parametrize("kind", ["file", "dir", "symlink", "hardlink"])
def test_refuses_unsafe_member_names(layout: Layout, name: str, why: str, kind: str) -> None:
    name = name.format(outside=layout.outside)
    member = {
        "file": lambda: file_member(name, b"evil"),
        "dir": lambda: dir_member(name),
        "symlink": lambda: link_member(name, "target.txt"),
        "hardlink": lambda: link_member(name, "target.txt", hard=True),
    }[kind]()
    data = tar_bytes([file_member("target.txt", b"t"), member])

    shown = name.rstrip("/") if kind == "dir" else name  # tar strips a directory's slash
    message = refused(data, layout.dest, shown)
    assert why in message
    assert tree(layout.dest) == {"target.txt": f"file:644:1:{sha(b't')}"}


@pytest.mark.parametrize(
    ("pax", "why"),
    [
        ({"path": "../../outside/evil.txt"}, "'..'"),
        ({"path": "a\x00b"}, "NUL byte"),
        ({"path": "/tmp/evil.txt"}, "absolute path"),
    ],
)
def test_refuses_unsafe_pax_paths(layout: Layout, pax: dict[str, str], why: str) -> None:
    message = refused(tar_of([pax_member("innocent.txt", pax)]), layout.dest, pax["path"])
    assert why in message
    assert tree(layout.dest) == {}


def test_refuses_unsafe_gnu_long_names(layout: Layout) -> None:
    name = "../" + "a" * 120
    data = tar_of([file_member(name, b"evil")], fmt=tarfile.GNU_FORMAT)
    assert b"././@LongLink" in gzip.decompress(data)

    assert "'..'" in refused(data, layout.dest, name)


def test_refuses_names_that_are_not_utf8(layout: Layout) -> None:
    info = member_info("x", size=1)
    info.name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    raw = header(info) + b"x".ljust(512, b"\0") + END

    assert "not UTF-8" in refused(compress(raw, "gz"), layout.dest, info.name)


def test_refuses_a_file_named_like_the_model_directory(layout: Layout) -> None:
    assert "has no name" in refused(tar_bytes([file_member("./", b"x")]), layout.dest, "./")


@pytest.mark.parametrize(
    ("link", "target", "why"),
    [
        ("l", "{outside}/secret.txt", "absolute path"),
        ("l", "../outside/secret.txt", "outside the model"),
        ("l", "../../outside/secret.txt", "outside the model"),
        ("l", "..", "outside the model"),
        ("d/l", "../../outside", "outside the model"),
        ("d/l", "x/../../..", "outside the model"),
        ("l", "d/../..", "outside the model"),
        ("l", "sub/../x", "outside the model"),  # '..' after a name: chains could escape
        ("l", "", "empty"),
        ("l", "..\\outside", "backslash"),
    ],
)
def test_refuses_symlinks_that_may_point_outside(
    layout: Layout, link: str, target: str, why: str
) -> None:
    target = target.format(outside=layout.outside)
    data = tar_bytes([dir_member("d"), link_member(link, target), file_member("after", b"x")])

    assert why in refused(data, layout.dest, link)
    assert not os.path.lexists(layout.dest / link)


def test_refuses_a_symlink_chain_that_escapes(layout: Layout) -> None:
    # Lexically "d/l/../.." is ".", but the OS resolves d/l first (to the model root) and
    # then climbs twice: out of the model.
    members = [dir_member("d"), link_member("d/l", ".."), link_member("a", "d/l/../..")]

    assert "outside the model" in refused(tar_bytes(members), layout.dest, "a")
    assert tree(layout.dest) == {"d": "dir:755", "d/l": "link:.."}


def test_chains_of_allowed_links_stay_inside(layout: Layout) -> None:
    members = [
        dir_member("a/b"),
        link_member("a/b/up", ".."),
        link_member("a/b/up2", "up/.."),  # refused: '..' after a name
    ]
    assert "outside the model" in refused(tar_bytes(members), layout.dest, "a/b/up2")
    assert os.path.realpath(layout.dest / "a/b/up") == str(layout.dest / "a")


@pytest.mark.parametrize(
    ("link", "target", "written"),
    [
        ("l", "sub", "l/evil.txt"),
        ("l", ".", "l/evil.txt"),
        ("d/l", "..", "d/l/evil.txt"),
        ("l", "sub", "l/deeper/evil.txt"),
        ("l", "sub", "l"),  # a directory member over the link
    ],
)
def test_refuses_writing_through_a_symlink(
    layout: Layout, link: str, target: str, written: str
) -> None:
    members = [dir_member("sub"), dir_member("d"), link_member(link, target)]
    members.append(dir_member(written) if written == link else file_member(written, b"evil"))

    assert "symlink" in refused(tar_bytes(members), layout.dest, written)
    assert os.readlink(layout.dest / link) == target
    assert os.listdir(layout.dest / "sub") == []
    assert not (layout.dest / "evil.txt").exists()


def test_refuses_writing_below_a_file(layout: Layout) -> None:
    members = [file_member("a", b"file"), file_member("a/b", b"x")]
    assert "'a' to be a directory" in refused(tar_bytes(members), layout.dest, "a/b")


@pytest.mark.parametrize("second", ["file", "symlink", "hardlink"])
def test_refuses_replacing_a_directory(layout: Layout, second: str) -> None:
    replacement = {
        "file": file_member("d", b"x"),
        "symlink": link_member("d", "f"),
        "hardlink": link_member("d", "f", hard=True),
    }[second]
    members = [file_member("f", b"f"), dir_member("d"), file_member("d/keep", b"k"), replacement]

    assert "replace a directory" in refused(tar_bytes(members), layout.dest, "d")
    assert (layout.dest / "d/keep").read_bytes() == b"k"


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("{outside}/secret.txt", "not an earlier file"),
        ("../outside/secret.txt", "not an earlier file"),
        ("../../outside/secret.txt", "not an earlier file"),
        ("later.txt", "not an earlier file"),
        ("missing.txt", "not an earlier file"),
        ("dir", "not an earlier file"),
        ("sym", "not an earlier file"),
        ("self", "itself"),
        ("./self", "itself"),
    ],
)
def test_refuses_unsafe_hard_links(layout: Layout, target: str, why: str) -> None:
    target = target.format(outside=layout.outside)
    members = [
        dir_member("dir"),
        file_member("real.txt", b"r"),
        link_member("sym", "real.txt"),
        file_member("self", b"s"),
        link_member("self" if "self" in target else "h", target, hard=True),
        file_member("later.txt", b"later"),
    ]
    assert why in refused(tar_bytes(members), layout.dest, "self" if "self" in target else "h")
    assert (layout.outside / "secret.txt").stat().st_nlink == 1


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        (tarfile.CHRTYPE, "character device"),
        (tarfile.BLKTYPE, "block device"),
        (tarfile.FIFOTYPE, "FIFO"),
        (tarfile.GNUTYPE_SPARSE, "sparse"),
        (b"D", "unsupported type"),  # GNU dump directory
        (b"V", "unsupported type"),  # GNU volume label
        (b"M", "unsupported type"),  # GNU multi-volume continuation
        (b"Z", "unsupported type"),
    ],
)
def test_refuses_special_and_unknown_member_types(layout: Layout, kind: bytes, why: str) -> None:
    members = [
        file_member("ok", b"ok"),
        special_member("dev/node", kind),
        file_member("after", b"a"),
    ]
    data = tar_of(members, fmt=tarfile.GNU_FORMAT)

    assert why in refused(data, layout.dest, "dev/node")
    assert tree(layout.dest) == {"ok": f"file:644:1:{sha(b'ok')}"}


def test_refuses_pax_sparse_files(layout: Layout) -> None:
    pax = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": "weights",
        "GNU.sparse.realsize": "99",
    }
    data = tar_of(
        [pax_member("GNUSparseFile.0/weights", pax, data=b"1\n0\n2\n".ljust(512, b"\0") + b"xx")]
    )

    assert "sparse" in refused(data, layout.dest, "././@PaxHeader")


# -- Limits and bombs ---------------------------------------------------------------------


def test_member_limit(layout: Layout, tmp_path_factory: pytest.TempPathFactory) -> None:
    data = tar_bytes([dir_member("d")] + [file_member(f"d/{i}", b"x") for i in range(4)])

    exact = tmp_path_factory.mktemp("exact")
    assert len(extract(data, exact, limits=Limits(max_members=5))) == 4
    message = refused(data, layout.dest, "d/3", limits=Limits(max_members=4))
    assert "member limit (4" in message
    assert sorted(os.listdir(layout.dest / "d")) == ["0", "1", "2"]


def test_size_limit(layout: Layout, tmp_path_factory: pytest.TempPathFactory) -> None:
    data = tar_bytes(
        [file_member(n, b"x" * 10) for n in "abc"] + [link_member("h", "a", hard=True)]
    )

    exact = tmp_path_factory.mktemp("exact")
    assert len(extract(data, exact, limits=Limits(max_bytes=30))) == 4
    message = refused(data, layout.dest, "c", limits=Limits(max_bytes=29))
    assert "past the limit (29 bytes" in message
    assert sorted(os.listdir(layout.dest)) == ["a", "b"]


def test_limits_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        Limits(max_bytes=-1)


def zero_stream(compression: str, mib: int) -> bytes:
    """``mib`` MiB of zeros as concatenated gzip members / zstd frames: tiny, fast to build."""
    return compress(ONE_MIB_ZEROS, compression) * mib


def dest_bytes(dest: Path) -> int:
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_bomb_with_one_huge_member_is_refused_before_unpacking(
    layout: Layout, compression: str
) -> None:
    info = member_info("weights.bin", size=6 << 30)
    data = compress(header(info), compression) + zero_stream(compression, 256)
    assert len(data) < 1 << 20  # 6 GiB declared, a few KiB sent

    start = time.monotonic()
    assert "past the limit" in refused(
        data, layout.dest, "weights.bin", limits=Limits(max_bytes=1 << 30)
    )
    assert time.monotonic() - start < 2
    assert dest_bytes(layout.dest) == 0


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_bomb_of_many_members_stops_at_the_size_limit(layout: Layout, compression: str) -> None:
    zeros = compress(ONE_MIB_ZEROS, compression)
    parts = []
    for i in range(1024):  # 1 GiB unpacked
        parts.append(compress(header(member_info(f"shard-{i:04}", size=1 << 20)), compression))
        parts.append(zeros)
    data = b"".join(parts) + compress(END, compression)
    assert len(data) < 3 << 20

    refused(data, layout.dest, "shard-0016", limits=Limits(max_bytes=16 << 20))
    assert dest_bytes(layout.dest) == 16 << 20


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_bomb_after_the_end_marker_is_refused(layout: Layout, compression: str) -> None:
    data = tar_bytes([file_member("a", b"a")], compression) + zero_stream(compression, 80)

    with pytest.raises(UnsafeArchiveError, match="follow the end of the tar archive"):
        extract(data, layout.dest)


def test_huge_extension_header_is_refused_before_reading_it(layout: Layout) -> None:
    info = member_info("././@PaxHeader", tarfile.XHDTYPE, size=4 << 30)
    data = compress(header(info, tarfile.USTAR_FORMAT), "gz") + zero_stream("gz", 64)

    assert "extension header of 4294967296 bytes" in refused(data, layout.dest, "././@PaxHeader")


def test_endless_extension_headers_are_refused(layout: Layout) -> None:
    name = b"x" * 200
    long_name = header(member_info("././@LongLink", tarfile.GNUTYPE_LONGNAME, size=len(name)))
    raw = (long_name + name.ljust(512, b"\0")) * 50 + header(member_info("a", size=0)) + END

    assert "extension headers in a row" in refused(
        compress(raw, "gz"), layout.dest, "././@LongLink"
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "records",
    [
        b"99 path=x\n",
        b"5 path=x\n",
        b"garbage",
        b"11 path-xx\n",
        b"1" * 400 + b" path=x\n",
        b"6 a=b\ngarbage",  # once looped forever: garbage after a good record
        b"6 a=b\n0 \n",
        b"6 a=b\n7 a=b\n",
    ],
)
def test_refuses_malformed_pax_records(layout: Layout, records: bytes) -> None:
    pax = header(
        member_info("././@PaxHeader", tarfile.XHDTYPE, size=len(records)), tarfile.USTAR_FORMAT
    )
    raw = pax + records.ljust(512, b"\0") + header(member_info("a")) + END

    assert "malformed PAX record" in refused(compress(raw, "gz"), layout.dest, "././@PaxHeader")


def test_global_pax_headers_apply_to_later_members(layout: Layout) -> None:
    glob = b"17 linkpath=file\n"
    raw = (
        header(member_info("g", tarfile.XGLTYPE, size=len(glob)), tarfile.USTAR_FORMAT)
        + glob.ljust(512, b"\0")
        + header(member_info("file", size=1))
        + b"f".ljust(512, b"\0")
        + header(member_info("link", tarfile.SYMTYPE))
        + END
    )
    entries = extract(compress(raw, "gz"), layout.dest)
    assert entries == [
        ManifestEntry("file", 1, sha(b"f")),
        ManifestEntry("link", 0, "", link="file"),
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_damaged_archives_fail_cleanly(layout: Layout, fmt: int) -> None:
    """Seeded fuzzing: byte flips give a tfhub error or a clean result, never a crash."""
    members = [
        dir_member("m"),
        file_member(f"m/{'long' * 40}.bin", random_bytes(700)),
        link_member("m/link", f"{'long' * 40}.bin"),
        link_member("m/hard", f"m/{'long' * 40}.bin", hard=True),
        pax_member("m/ünï.txt", {"comment": "x" * 50}),
    ]
    raw = tar_of(members, fmt=fmt, compression="none")
    rng = random.Random(fmt)
    outcomes: dict[str, int] = {}
    for attempt in range(400):
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(min(len(raw), 4096))] = rng.randrange(256)
        dest = layout.dest / str(attempt)
        dest.mkdir()
        try:
            extract(bytes(damaged), dest)
            outcome = "ok"
        except (UnsafeArchiveError, DownloadError) as e:
            outcome = type(e).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert set(outcomes) <= {"ok", "UnsafeArchiveError", "DownloadError", "NotAnArchiveError"}
    assert outcomes.get("ok", 0) < 400


# -- Damaged downloads and things that are not archives -----------------------------------


def two_member_tar(compression: str) -> bytes:
    members = [
        file_member("a.bin", random_bytes(100_000, 1)),
        file_member("b.bin", random_bytes(100_000, 2)),
    ]
    return tar_of(members, compression=compression)


@pytest.mark.parametrize(
    ("compression", "cut"),
    [
        ("gz", 0.5),
        ("gz", 0.9),
        ("gz", -4),  # inside the CRC / length trailer
        ("gz", -30),
        ("zst", 0.5),
        ("zst", 0.99),
        ("zst", 30),
        ("none", 0.3),
        ("none", 0.9),
        ("none", 512 + 100_352),  # exactly after a's data: a header boundary
        ("none", 512 + 100_352 + 300),  # inside b's header
        ("none", 512 + 100_352 + 512 + 100_352),  # after b, before the end marker
    ],
)
def test_truncated_archives_are_download_errors(
    layout: Layout, compression: str, cut: float
) -> None:
    data = two_member_tar(compression)
    end = int(len(data) * cut) if isinstance(cut, float) else cut if cut > 0 else len(data) + cut

    with pytest.raises(DownloadError) as info:
        extract(data[:end], layout.dest)
    assert not isinstance(info.value, NotAnArchiveError)
    assert LABEL in str(info.value)
    assert "truncated" in str(info.value)


def test_corrupt_gzip_is_a_download_error(layout: Layout) -> None:
    data = bytearray(two_member_tar("gz"))
    data[-6] ^= 0xFF  # the CRC

    with pytest.raises(DownloadError, match="gzip data is damaged"):
        extract(bytes(data), layout.dest)


def test_corrupt_zstd_is_a_download_error(layout: Layout) -> None:
    data = bytearray(
        zstandard.ZstdCompressor(write_checksum=True).compress(
            tar_of([file_member("a", random_bytes(5000))], compression="none")
        )
    )
    data[-2] ^= 0xFF  # the frame checksum

    with pytest.raises(DownloadError, match="zstd data is damaged"):
        extract(bytes(data), layout.dest)


def test_a_damaged_tar_header_is_a_download_error(layout: Layout) -> None:
    data = bytearray(two_member_tar("none"))
    data[512 + 100_352 + 10] ^= 0xFF  # inside b's header: its checksum no longer matches

    with pytest.raises(DownloadError, match="header is damaged"):
        extract(bytes(data), layout.dest)


HTML = b"<!doctype html><html><head><title>Sign in</title></head><body>" + b"<p>hello</p>" * 100


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_compressed_data_that_is_not_tar(layout: Layout, compression: str) -> None:
    with pytest.raises(NotAnArchiveError) as info:
        extract(compress(HTML, compression), layout.dest, content_type="application/gzip")
    message = str(info.value)
    assert (
        f"{LABEL} returned {'gzip' if compression == 'gz' else 'zstd'} data that is not a tar"
        in message
    )
    assert "application/gzip" in message


def test_short_gzip_data_is_not_tar(layout: Layout) -> None:
    with pytest.raises(NotAnArchiveError, match="not a tar archive"):
        extract(gzip.compress(b"hello"), layout.dest)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (HTML, "text/html; charset=utf-8"),
        (b'{"error": "not found"}', "application/json"),
        (b"", "text/plain"),
        (bytes(2048), "application/octet-stream"),
    ],
)
def test_non_archives_name_the_content_type(layout: Layout, body: bytes, content_type: str) -> None:
    with pytest.raises(NotAnArchiveError) as info:
        extract(body, layout.dest, content_type=content_type)

    assert str(info.value).startswith(
        f"{LABEL} did not return a model archive (got {content_type})"
    )
    assert isinstance(info.value, DownloadError)
    assert os.listdir(layout.dest) == []


def test_non_archive_without_content_type_shows_its_first_bytes(layout: Layout) -> None:
    with pytest.raises(NotAnArchiveError, match=r"it starts with b'<!doctype html><'"):
        extract(HTML, layout.dest)


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_empty_archive(layout: Layout, compression: str) -> None:
    with pytest.raises(NotAnArchiveError, match="empty archive"):
        extract(tar_bytes([], compression), layout.dest)


def test_zstd_magic_followed_by_garbage(layout: Layout) -> None:
    with pytest.raises(DownloadError, match="zstd data is damaged"):
        extract(b"\x28\xb5\x2f\xfd" + random_bytes(1000), layout.dest)


# -- Memory -------------------------------------------------------------------------------


class Generated(io.RawIOBase):
    """``size`` bytes (zeros or random) produced on demand and hashed as they go."""

    def __init__(self, size: int, *, random_data: bool = False) -> None:
        self.size = self.left = size
        self.random_data = random_data
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left, len(ONE_MIB_ZEROS))
        chunk = os.urandom(n) if self.random_data else ONE_MIB_ZEROS[:n]
        buffer[:n] = chunk
        self.digest.update(chunk)
        self.left -= n
        return n


def write_archive(path: Path, compression: str, files: dict[str, Generated]) -> list[list[object]]:
    """Streams a tar of ``files`` to ``path`` (never held in memory); returns the manifest rows."""
    with (
        path.open("wb") as f,
        compressing_writer(f, compression) as writer,
        tarfile.open(fileobj=writer, mode="w|", copybufsize=1 << 20) as tar,
    ):
        for name, source in files.items():
            info = tarfile.TarInfo(name)
            info.size = source.size
            tar.addfile(info, source)
    return [[name, s.size, s.digest.hexdigest()] for name, s in files.items()]


def compressing_writer(f: io.BufferedWriter, compression: str) -> Any:
    if compression == "zst":
        return zstandard.ZstdCompressor(level=1).stream_writer(f, closefd=False)
    return gzip.GzipFile(fileobj=f, mode="wb", compresslevel=1)


MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    import zstandard  # imported before the baseline, like any module
    from tfhub.core.archive import extract_archive

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(sys.argv[1], "rb") as f:
        entries = extract_archive(f, sys.argv[2], label="memory")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = [[e.path, e.size, e.sha256] for e in entries]
    print(json.dumps({"growth_kib": after - before, "entries": rows}))
    """
)


@pytest.mark.parametrize("compression", ["zst", "gz"])
def test_extraction_streams_with_flat_memory(tmp_path: Path, compression: str) -> None:
    files = {"variables/variables.data-00000-of-00001": Generated(300 << 20)}
    if compression == "zst":  # incompressible too: buffering the download would show
        files["variables/variables.data-00000-of-00002"] = Generated(160 << 20, random_data=True)
    archive = tmp_path / f"model.tar.{compression}"
    expected = write_archive(archive, compression, files)
    dest = tmp_path / "dest"
    dest.mkdir()

    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(archive), str(dest)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(out.stdout)
    assert result["entries"] == expected
    for name, size, _ in expected:
        assert (dest / str(name)).stat().st_size == size
    growth_mib = result["growth_kib"] / 1024
    assert growth_mib < 64, f"peak RSS grew by {growth_mib:.0f} MiB"
    print(f"peak RSS growth: {growth_mib:.1f} MiB")
