"""Local paths and ``file://`` URLs: a directory is used in place; an archive file is
installed through the cache."""

from __future__ import annotations

import os
from typing import IO

from tfhub.core.handle import Handle
from tfhub.errors import HandleError, ModelNotFoundError
from tfhub.resolvers.base import Context


class LocalResolver:
    """Resolves ``/path/to/model``, ``~/model``, ``file:///path`` and local ``.tar.gz`` files."""

    def resolve(self, handle: Handle, context: Context) -> str:
        path = handle.location
        if os.path.isdir(path):
            return path
        if os.path.isfile(path):
            if not handle.is_archive_url:
                raise HandleError(
                    f"{path} is a file, not a model directory. Pass the directory that holds "
                    "saved_model.pb (or tfhub_module.pb), or a .tar.gz/.tar/.tar.zst archive."
                )
            from tfhub.resolvers.install import install_archive  # not needed for directories

            st = os.stat(path)
            # The key changes when the archive file does, so an edited archive reinstalls.
            keyed = Handle("file", f"{path}#{st.st_size}-{st.st_mtime_ns}", handle.original)

            def open_archive() -> tuple[IO[bytes], str | None]:
                return open(path, "rb"), None

            return install_archive(keyed, context, open_archive, source=path)
        raise ModelNotFoundError(f"No model at {path}: no such file or directory.")
