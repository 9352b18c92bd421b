"""HTTP for tfhub: the client (timeouts, proxies, token rule), retries with backoff, digests,
and reading a large body without httpx's per-byte overhead (:func:`raw_body`).

The resumable, verified archive stream lives in :mod:`tfhub.core.download`.

Example:
    >>> from tfhub.config import Settings
    >>> client = make_client(Settings())
    >>> client.close()
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import logging
import os
import random
import re
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

from tfhub._version import __version__
from tfhub.config import Settings
from tfhub.core.handle import redact_url
from tfhub.errors import ConfigError, DownloadError, ModelNotFoundError

logger = logging.getLogger("tfhub")

MAX_REDIRECTS = 10
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
"""Failures worth retrying: the next attempt may well succeed."""
_REDIRECTS = (301, 302, 303, 307, 308)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_STRONG_ETAG = re.compile(r'^"?([0-9a-fA-F]{64})"?$')


def make_client(settings: Settings) -> httpx.Client:
    """An HTTP client with tfhub's timeouts, proxies from the environment and token rule.

    The bearer token (``TFHUB_TOKEN``) is added to a request only when its host and port are
    those of ``TFHUB_TOKEN_HOST``; it is never sent anywhere else, not even after a redirect.
    """
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.read_timeout,
        pool=settings.connect_timeout,
    )
    hooks: dict[str, list[Any]] = {"request": [_token_hook(settings)]}
    return httpx.Client(
        verify=_tls_context(),
        timeout=timeout,
        trust_env=True,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": f"tfhub/{__version__}", "Accept-Encoding": "identity"},
        event_hooks=hooks,
    )


def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), made
    once per process: loading the CA bundle takes some 20 ms, and every call (every
    :func:`make_client`) would pay it again."""
    return _tls_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=True)  # reads the same two variables


def split_host(host: str) -> tuple[str, int | None]:
    """``"name:port"`` -> ``("name", port)``; the port is None when not given.

    >>> split_host("Hub.example.com:8080"), split_host("[::1]"), split_host("::1")
    (('hub.example.com', 8080), ('::1', None), ('::1', None))
    """
    host = host.strip().lower()
    if host.count(":") > 1 and not host.startswith("["):
        return host, None  # a bare IPv6 address
    try:
        parts = urllib.parse.urlsplit("//" + host)
        return parts.hostname or "", parts.port
    except ValueError:
        raise ConfigError(
            f"TFHUB_TOKEN_HOST={host!r} is not a host or host:port (e.g. hub.example.com or "
            "127.0.0.1:8080)."
        ) from None


def token_applies(url: httpx.URL, host: str, port: int | None) -> bool:
    """True if a request to ``url`` may carry the token of ``host``/``port``. A host named
    without a port means the scheme's default port."""
    default = 443 if url.scheme == "https" else 80
    return url.host.lower() == host and (url.port or default) == (port or default)


def _token_hook(settings: Settings) -> Any:
    bearer = f"Bearer {settings.token}" if settings.token else ""
    host, port = split_host(settings.token_host) if settings.token_host else ("", None)

    def add_token(request: httpx.Request) -> None:
        if not bearer or not host:
            return
        if token_applies(request.url, host, port):
            # Credentials written in the handle's URL (basic auth) are more specific.
            request.headers.setdefault("Authorization", bearer)
        elif request.headers.get("Authorization") == bearer:
            del request.headers["Authorization"]  # e.g. kept by an http -> https redirect

    return add_token


def split_credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """``user:password@`` moved out of the URL into basic auth, so no log line shows it.

    >>> split_credentials("https://me:pw@hub.example.com/m/1")[0]
    'https://hub.example.com/m/1'
    """
    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return url, None
    auth = httpx.BasicAuth(parsed.username, parsed.password)
    return str(parsed.copy_with(userinfo=b"")), auth


def _digest_value(value: str) -> str | None:
    value = value.strip().strip(":")
    if _HEX64.fullmatch(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def expected_sha256(headers: httpx.Headers, *, partial: bool = False) -> str | None:
    """The sha256 of the whole archive the server announces: ``Repr-Digest``, ``Digest``,
    ``X-Checksum-Sha256`` or a strong 64-hex ETag. ``Content-Digest`` counts only for a
    complete body (``partial=False``), since for a 206 it covers the part sent.

    >>> h = httpx.Headers({"ETag": '"' + "ab" * 32 + '"'})
    >>> expected_sha256(h) == "ab" * 32
    True
    """
    names = ("repr-digest", "digest") if partial else ("repr-digest", "content-digest", "digest")
    for name in names:
        for part in headers.get(name, "").split(","):
            algo, _, value = part.strip().partition("=")
            if algo.strip().lower() in ("sha-256", "sha256") and value:
                found = _digest_value(value)
                if found is not None:
                    return found
    checksum = str(headers.get("x-checksum-sha256", "")).strip()
    if _HEX64.fullmatch(checksum):
        return checksum.lower()
    match = _STRONG_ETAG.match(headers.get("etag", "").strip())  # a weak W/ ETag never matches
    return match.group(1).lower() if match else None


def describe_status(response: httpx.Response, label: str) -> DownloadError | ModelNotFoundError:
    """The tfhub error for an unexpected HTTP status."""
    status = response.status_code
    if status in (404, 410):
        return ModelNotFoundError(f"No model at {label} (HTTP {status}). Check the handle.")
    if status in (401, 403):
        return DownloadError(
            f"Access to {label} was denied (HTTP {status}). If the hub needs a token, set "
            "TFHUB_TOKEN and TFHUB_TOKEN_HOST (the token is sent to that host:port only)."
        )
    return DownloadError(
        f"{label} answered HTTP {status} {response.reason_phrase}; expected a model archive. "
        "Check the handle."
    )


def backoff(attempt: int, response: httpx.Response | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): exponential, jittered, capped;
    a server's ``Retry-After`` (in seconds) wins."""
    if response is not None:
        retry_after = response.headers.get("retry-after", "").strip()
        if retry_after.isdigit():
            return min(float(retry_after), 30.0)
    return float(min(0.25 * 2 ** (attempt - 1), 8.0) * (0.5 + random.random()))


class Retrier:
    """Counts the retries of one download and waits between them."""

    def __init__(self, label: str, retries: int) -> None:
        self.label, self.retries, self.attempt = label, retries, 0

    def bump(self, why: str, response: httpx.Response | None = None) -> None:
        """Waits before the next try, or raises :class:`DownloadError` if none is left."""
        self.attempt += 1
        if self.attempt > self.retries:
            raise DownloadError(
                f"Downloading {self.label} failed after {self.retries} retries: {why}. "
                "Check that the server is reachable and run the same call again; "
                "it resumes where it stopped (TFHUB_RETRIES sets the number of retries)."
            )
        wait = backoff(self.attempt, response)
        logger.warning("%s: %s; retry %d in %.1f s", self.label, why, self.attempt, wait)
        time.sleep(wait)


def describe_error(error: httpx.HTTPError) -> str:
    """A short, credential-free description of a transport failure."""
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"


def send(
    client: httpx.Client,
    url: str,
    retrier: Retrier,
    *,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = True,
) -> httpx.Response:
    """GETs ``url`` (streaming), retrying transient failures and statuses. The caller
    closes the response."""
    url, auth = split_credentials(url)
    while True:
        request = client.build_request("GET", url, headers=headers)
        try:
            response = client.send(
                request, stream=True, follow_redirects=follow_redirects, auth=auth
            )
        except httpx.TooManyRedirects as e:
            raise DownloadError(
                f"{retrier.label} redirects too many times (more than {MAX_REDIRECTS}). "
                "Check the handle; the server may be misconfigured."
            ) from e
        except TRANSIENT_ERRORS as e:
            retrier.bump(f"no answer ({describe_error(e)})")
            continue
        except httpx.HTTPError as e:
            raise DownloadError(
                f"Cannot download {retrier.label}: {describe_error(e)}. Check the handle."
            ) from e
        if response.status_code in TRANSIENT_STATUS:
            response.close()
            retrier.bump(f"HTTP {response.status_code}", response)
            continue
        return response


def raw_body(response: httpx.Response, read_size: int) -> Iterator[bytes]:
    """The body as it comes off the wire, read straight from the connection where that is
    safe: an HTTP/1.x body framed by Content-Length, after the first piece.

    httpx parses the body with h11, which copies every byte four times over; tfhub's
    archives are large. The first piece empties h11's buffer (for such a body h11 hands on
    all it holds), so the rest of the body is the next ``Content-Length - len(first)`` bytes
    of the connection, which is then closed rather than reused. Anything else (chunked
    transfer, no length, HTTP/2) goes through httpx as usual. Pieces are at most
    ``read_size`` bytes; failures are httpx's exceptions, as from ``iter_raw``.
    """
    pieces = response.iter_raw()
    stream: Any = response.extensions.get("network_stream")
    length = response.headers.get("content-length", "")
    if (
        response.http_version not in ("HTTP/1.1", "HTTP/1.0")
        or "transfer-encoding" in response.headers
        or not (length.isascii() and length.isdigit())
        or not callable(getattr(stream, "read", None))
    ):
        yield from pieces
        return
    first = next(pieces, b"")
    received, expected = len(first), int(length)
    if first:
        yield first
    timeout = response.request.extensions.get("timeout", {}).get("read")
    while received < expected:
        with _httpx_errors():
            piece = stream.read(min(read_size, expected - received), timeout=timeout)
        if not piece:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                f"(received {received} bytes, expected {expected})"
            )
        received += len(piece)
        yield piece


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's read errors as the httpx errors they stand for (as httpx maps them)."""
    try:
        yield
    except httpcore.TimeoutException as e:
        raise httpx.ReadTimeout(str(e)) from e
    except httpcore.NetworkError as e:
        raise httpx.ReadError(str(e)) from e


def shutdown(response: httpx.Response) -> None:
    """Shuts the response's socket down, so that a read blocked in another thread returns."""
    extra_info = getattr(response.extensions.get("network_stream"), "get_extra_info", None)
    sock = extra_info("socket") if callable(extra_info) else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _location(response: httpx.Response) -> str | None:
    location = str(response.headers.get("location", ""))
    if not location:
        return None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", location):
        return location  # absolute (also file:// and gs:// URLs, which httpx cannot join)
    return str(response.url.join(location))


def _not_a_storage_redirect(response: httpx.Response, label: str) -> Exception:
    if response.status_code == 200:
        return DownloadError(
            f"{label} does not serve models uncompressed (expected a 303 redirect to storage, "
            f"got HTTP 200 {response.headers.get('content-type', '')}). Unset "
            "TFHUB_MODEL_LOAD_FORMAT to download the archive instead."
        )
    return describe_status(response, label)


def find_redirect(client: httpx.Client, url: str, *, label: str, settings: Settings) -> str:
    """For ``tf-hub-format=uncompressed``: where the server's 303 points to (the storage
    location). Other redirects to http(s) URLs are followed first."""
    retrier = Retrier(label, settings.retries)
    for _ in range(MAX_REDIRECTS + 1):
        response = send(client, url, retrier, follow_redirects=False)
        response.close()  # only the status and headers matter, never the body
        location = _location(response) if response.status_code in _REDIRECTS else None
        if location is None:
            raise _not_a_storage_redirect(response, label)
        if response.status_code == 303 or not location.startswith(("http:", "https:")):
            return location
        url = location
    raise DownloadError(
        f"{label} redirects too many times (more than {MAX_REDIRECTS}). Check the handle."
    )


__all__ = [
    "Retrier",
    "backoff",
    "describe_status",
    "expected_sha256",
    "find_redirect",
    "make_client",
    "raw_body",
    "redact_url",
    "send",
    "shutdown",
]
