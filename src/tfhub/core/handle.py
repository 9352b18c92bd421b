"""Handles as values: parse once, then pass a frozen :class:`Handle` around.

A handle is what users pass to ``resolve``/``load``: a local path, a ``file://`` URL, an
``http(s)://`` hub or archive URL, or an object-storage URL (``gs://``, ``s3://``).

Example:
    >>> h = Handle.parse("HTTPS://Hub.Example.com:443/models/bert/1/?tf-hub-format=compressed")
    >>> str(h)
    'https://hub.example.com/models/bert/1'
    >>> h.scheme
    'https'
    >>> Handle.parse("/models/bert").scheme
    'file'
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from tfhub.errors import HandleError

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.zst", ".tzst", ".tar.zstd")
FORMAT_PARAM = "tf-hub-format"
"""The query parameter of the hub URL protocol (``compressed`` / ``uncompressed``)."""


@dataclass(frozen=True)
class Handle:
    """A parsed, normalised model handle.

    Attributes:
        scheme: ``file`` for local paths, else the URL scheme in lower case.
        location: the normalised URL, or the absolute local path for ``file``.
        original: exactly what the user passed (as a string).
    """

    scheme: str
    location: str
    original: str = field(default="", compare=False)

    @classmethod
    def parse(cls, handle: str | os.PathLike[str]) -> Handle:
        """Parses ``handle``; raises :class:`~tfhub.HandleError` if it is empty or malformed."""
        if isinstance(handle, os.PathLike):
            raw = os.fspath(handle)
            return cls("file", os.path.abspath(raw), raw)
        if not isinstance(handle, str):
            raise HandleError(
                f"A handle must be a string or path, got {type(handle).__name__}: {handle!r}."
            )
        raw = handle.strip()
        if not raw:
            raise HandleError("The handle is empty; pass a path or a URL.")
        match = _URL.match(raw)
        if match is None:
            return cls("file", os.path.abspath(os.path.expanduser(raw)), handle)
        scheme = match.group(1).lower()
        if scheme == "file":
            return cls("file", _file_url_to_path(raw), handle)
        if scheme in _DEFAULT_PORTS:
            return cls(scheme, _normalise_http(raw), handle)
        return cls(scheme, _normalise_generic(raw, scheme), handle)

    def __str__(self) -> str:
        return self.location

    @property
    def is_remote(self) -> bool:
        """True unless the handle names something on the local file system."""
        return self.scheme != "file"

    @property
    def is_archive_url(self) -> bool:
        """True if the URL path itself names an archive (``.tar.gz``, ``.tar.zst``, ...)."""
        path = urllib.parse.urlsplit(self.location).path if self.is_remote else self.location
        return path.lower().endswith(_ARCHIVE_SUFFIXES)

    @functools.cached_property
    def cache_key(self) -> str:
        """A stable, file-name-safe key: a readable slug plus a hash of the location."""
        digest = hashlib.sha256(self.location.encode("utf-8")).hexdigest()[:20]
        tail = redact_url(self.location).split("://", 1)[-1].replace("***@", "")
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", tail).strip("._-")[-48:].strip("._-")
        return f"{slug}-{digest}" if slug else digest

    def with_format(self, value: str) -> str:
        """The hub URL with ``tf-hub-format=value`` added after any existing parameters."""
        parts = urllib.parse.urlsplit(self.location)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        query.append((FORMAT_PARAM, value))
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def redacted(self) -> str:
        """The location without any ``user:password@`` part, for logs and messages."""
        return redact_url(self.location)


def redact_url(url: str) -> str:
    """Removes credentials from a URL so it can be logged.

    >>> redact_url("https://me:secret@hub.example.com/m/1")
    'https://***@hub.example.com/m/1'
    """
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def _file_url_to_path(raw: str) -> str:
    parts = urllib.parse.urlsplit(raw)
    if parts.netloc not in ("", "localhost"):
        raise HandleError(
            f"file URL {raw!r} names host {parts.netloc!r}; only local files are supported "
            "(use file:///absolute/path)."
        )
    if not parts.path:
        raise HandleError(f"file URL {raw!r} has no path; use file:///absolute/path.")
    return os.path.abspath(urllib.request.url2pathname(parts.path))


def _normalise_http(raw: str) -> str:
    try:
        parts = urllib.parse.urlsplit(raw)
        port = parts.port
    except ValueError as e:
        raise HandleError(f"Malformed URL {raw!r}: {e}.") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        raise HandleError(f"URL {raw!r} has no host.")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        netloc = f"{userinfo}@{netloc}"
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/") or ""
    query = [
        (k, v)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if k != FORMAT_PARAM
    ]
    return urllib.parse.urlunsplit((scheme, netloc, path, urllib.parse.urlencode(query), ""))


def _normalise_generic(raw: str, scheme: str) -> str:
    rest = raw.split("://", 1)[1].rstrip("/")
    if not rest:
        raise HandleError(f"Handle {raw!r} names no bucket or path.")
    return f"{scheme}://{rest}"
