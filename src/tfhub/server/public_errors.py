"""Error messages for publishers: the server's own folders replaced by what was uploaded.

Checks of an upload run in a scratch folder of the server (``/tmp/tfhub-publish-.../``);
their messages name files in it. Publishers see the upload's name instead, and the file's
place inside the model, so the hub never tells who asks where it keeps its files.

Example:
    >>> hide_paths("Not a model: /tmp/w/unpacked has no saved_model.pb.",
    ...            ["/tmp/w/unpacked"], "the upload to acme/enc")
    'Not a model: the upload to acme/enc has no saved_model.pb.'
    >>> hide_paths("Cannot read /tmp/w/unpacked/variables/x.index.", ["/tmp/w/unpacked"], "it")
    'Cannot read variables/x.index in it.'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from tfhub.errors import ServerError

_REST = r"(?:/(?P<rest>[^\s'\"`,;:()\[\]]*))?"


def hide_paths(message: str, roots: Iterable[str], name: str) -> str:
    """``message`` with every path under one of ``roots`` replaced: the root itself by
    ``name``, a path inside it by ``<relative path> in <name>``."""
    candidates = {r.rstrip("/") for root in roots if root for r in (root, os.path.realpath(root))}
    for root in sorted(candidates, key=len, reverse=True):
        if not root:
            continue
        pattern = re.compile(re.escape(root) + r"(?![\w-])" + _REST)

        def replace(match: re.Match[str]) -> str:
            full = match.group("rest") or ""
            rest = full.rstrip(".")
            dots = full[len(rest) :]  # a sentence's full stop, not part of the path
            return (f"{rest} in {name}" if rest else name) + dots

        message = pattern.sub(replace, message)
    return message


def without_paths(error: ServerError, roots: Iterable[str], name: str) -> ServerError:
    """``error`` itself if its message names none of ``roots``, else a copy that does not."""
    message = hide_paths(error.message, roots, name)
    if message == error.message:
        return error
    return ServerError(message, status=error.status, code=error.code)
