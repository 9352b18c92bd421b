"""Publisher and model names, and version numbers: what a hub URL may contain.

A name is a lowercase slug: 1 to 64 characters of ``a-z``, ``0-9``, ``-``, ``_`` and
``.``, starting with a letter or digit and not ending with ``.``, ``-`` or ``_``
(``bert``, ``text-encoder_v2``, ``resnet.50``). Publisher names that are paths of the
hub itself (``api``, ``static``, ...) are reserved. A version is a positive integer
(written without leading zeros).

Example:
    >>> check_name("text-encoder_v2", "model")
    'text-encoder_v2'
    >>> check_name("Bert", "model")
    Traceback (most recent call last):
    ...
    tfhub.errors.ServerError: Invalid model name 'Bert': use 1-64 lowercase letters, ...
    >>> parse_version("3")
    3
"""

from __future__ import annotations

import re

from tfhub.errors import ServerError

_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
RESERVED = frozenset(
    {
        "api", "static", "healthz", "docs", "openapi.json", "search", "publishers", "models",
        "login", "logout", "admin", "assets", "favicon.ico", "robots.txt", "about", "help",
    }
)  # fmt: skip
"""Top-level paths of the hub that cannot be publisher names."""
MAX_VERSION = 2**31 - 1


def check_name(name: str, kind: str) -> str:
    """Returns ``name`` if it is a valid ``kind`` ("publisher"/"model") name.

    Raises:
        ServerError: 400 ``invalid_name``, saying what is allowed.
    """
    if not _NAME.fullmatch(name):
        raise ServerError(
            f"Invalid {kind} name {name!r}: use 1-64 lowercase letters, digits, '-', '_' or "
            "'.', starting and ending with a letter or digit.",
            status=400,
            code="invalid_name",
        )
    if kind == "publisher" and name in RESERVED:
        raise ServerError(
            f"{name!r} is reserved (a path of the hub itself); choose another publisher name.",
            status=400,
            code="invalid_name",
        )
    return name


def parse_version(text: str) -> int:
    """``"3"`` -> 3.

    Raises:
        ServerError: 400 ``invalid_version`` unless ``text`` is a positive integer.
    """
    if not (text.isascii() and text.isdigit() and text[0] != "0") or int(text) > MAX_VERSION:
        raise ServerError(
            f"Invalid version {text!r}: versions are positive integers (1, 2, ...).",
            status=400,
            code="invalid_version",
        )
    return int(text)
