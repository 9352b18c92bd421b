"""The files of a model directory: its checkpoint (``variables/``) and assets, listed with
``lstat`` only (links are listed, never followed; nothing is read).

Example:
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "assets", "sub"))
    >>> with open(os.path.join(root, "assets", "sub", "vocab.txt"), "w") as f:
    ...     _ = f.write("a\\nb\\n")
    >>> list_files(root, "assets")
    (FileInfo(path='sub/vocab.txt', size=4),)
"""

from __future__ import annotations

import os
import stat

from tfhub.inspection.checkpoint import VARIABLES_DIR
from tfhub.inspection.report import FileInfo

ASSET_DIRS = ("assets", "assets.extra")


def list_files(root: str, sub: str) -> tuple[FileInfo, ...]:
    """Every regular file or link under ``root/sub``, relative to ``root/sub``, sorted."""
    base = os.path.join(root, sub)
    found = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                relative = os.path.relpath(full, base).replace(os.sep, "/")
                found.append(FileInfo(relative, info.st_size))
    return tuple(sorted(found, key=lambda f: f.path))


def checkpoint_files(root: str) -> tuple[FileInfo, ...]:
    """The files of the checkpoint (``variables/variables.index``, ``.data-*``)."""
    return list_files(root, VARIABLES_DIR)


def asset_files(root: str) -> tuple[FileInfo, ...]:
    """The files under ``assets/`` (and ``assets.extra/``, prefixed with it)."""
    found: list[FileInfo] = []
    for sub in ASSET_DIRS:
        prefix = "" if sub == "assets" else f"{sub}/"
        found += [FileInfo(prefix + f.path, f.size) for f in list_files(root, sub)]
    return tuple(found)
