"""Logging in to the pages: the login form's checks and the hub's path prefix.

Who is looking at a page (:func:`tfhub.server.deps.reader_of`): a token from
``Authorization: Bearer`` or from the login cookie. Programs send the token as a header (an
unknown one is refused with 401, as in the API). Browsers log in once with a small form: the
token is checked, then kept in an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` on
https) scoped to the hub's path. A cookie whose token was revoked counts as anonymous and is
removed. Without a valid token, a private publisher's pages answer 404, as if they did not
exist.

Example:
    >>> safe_next("/acme/enc/2", ""), safe_next("//evil.example/x", ""), safe_next("", "/hub")
    ('/acme/enc/2', '/', '/hub/')
    >>> safe_next("/\\t/evil.example", ""), safe_next("/\\\\evil.example", "")
    ('/', '/')
"""

from __future__ import annotations

import urllib.parse

from starlette.requests import Request

from tfhub.errors import ServerError
from tfhub.server.access import Viewer, viewer_for
from tfhub.server.deps import hub_of, urls_of

MAX_FORM_BYTES = 4096


def check_token(request: Request, token: str) -> Viewer:
    """The viewer holding ``token``.

    Raises:
        ServerError: 401 if the token is unknown.
    """
    with hub_of(request).db.session() as session:
        return viewer_for(session, token)


def base_path(request: Request) -> str:
    """The path prefix of the hub's pages ("" at the root, "/hub" behind a proxy path)."""
    return urls_of(request).path


def safe_next(target: str, base: str) -> str:
    """``target`` if it is a path on this hub, else the home page (no open redirects)."""
    # Browsers drop tabs and newlines in URLs and read a backslash as "/" ("//evil").
    plain = target.isascii() and all(" " < ch < "\x7f" and ch != "\\" for ch in target)
    if plain and target.startswith("/") and not target.startswith("//"):
        return target
    return f"{base}/"


def same_origin(request: Request) -> bool:
    """False if the request's ``Origin`` header names another site (a cross-site form)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True

    def origin_of(url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    allowed = {origin_of(urls_of(request).base), origin_of(str(request.base_url))}
    return origin.lower() in allowed


def cookie_secure(request: Request) -> bool:
    return urls_of(request).base.startswith("https://") or request.url.scheme == "https"


async def read_form(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body as a dict (first value wins).

    Raises:
        ServerError: 413 past :data:`MAX_FORM_BYTES`; 415 for another content type.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ServerError("Send the form as application/x-www-form-urlencoded.", status=415)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ServerError("The form is too large.", status=413, code="too_large")
    fields = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    form: dict[str, str] = {}
    for name, value in fields:
        form.setdefault(name, value)
    return form
