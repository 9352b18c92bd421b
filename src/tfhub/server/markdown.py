"""READMEs: Markdown rendered to safe HTML (for the pages and the JSON API alike), and a
one-paragraph summary for listings.

READMEs come from publishers and are untrusted. Raw HTML is shown as text, never passed
through; links must be ``http``, ``https``, ``mailto`` or relative (anything else stays
plain text); links get ``rel="nofollow noopener noreferrer"``; images other than inline
``data:image/...`` become links (the pages load nothing from other origins, and their
Content-Security-Policy would block them anyway). The pages move headings two levels
down (``heading_shift=2``), so a README's ``# Title`` sits under the page's own ``<h1>``
and ``<h2>``; the JSON API keeps them as written. :func:`readme_html` keeps the HTML of
READMEs in a small cache (published versions never change).

Example:
    >>> print(render("# Encoder\\n\\n<b>hi</b> [x](javascript:alert(1))"), end="")
    <h1>Encoder</h1>
    <p>&lt;b&gt;hi&lt;/b&gt; [x](javascript:alert(1))</p>
    >>> render("![logo](https://e.org/l.png)")
    '<p><a href="https://e.org/l.png" rel="nofollow noopener noreferrer">image: logo</a></p>\\n'
    >>> render("## Usage", heading_shift=2)
    '<h4>Usage</h4>\\n'
    >>> summary("# Encoder\\n\\nMaps *text* to\\nvectors.\\n\\nMore.")
    'Maps text to vectors.'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_INLINE_IMAGE = re.compile(r"^data:image/(?:png|gif|jpeg|webp);", re.IGNORECASE)
_MARKUP = re.compile(r"[*_`]+|!?\[([^\]]*)\]\([^)]*\)")
REL = "nofollow noopener noreferrer"
PAGE_HEADING_SHIFT = 2
"""On a model page, README headings sit under the page's ``<h1>`` and its "Overview"
``<h2>``."""
SMALL_README_CHARS = 256 * 1024
"""READMEs up to this size share a 64-entry cache in :func:`readme_html`; larger ones (up
to the hub's upload limit) an 8-entry one, so a few huge READMEs cannot hold much memory."""


def safe_link(url: str) -> bool:
    """Whether a README may link to ``url``: http(s), mailto, or a relative reference.

    >>> [safe_link(u) for u in ("https://a.b", "#usage", "JavaScript:x", " data:x", "//e.org")]
    [True, True, False, False, True]
    """
    cleaned = "".join(ch for ch in url if ch >= " " and ch != "\x7f").strip()
    match = _SCHEME.match(cleaned)
    if match is None:
        return True
    return match.group(1).lower() in _SAFE_SCHEMES or bool(_INLINE_IMAGE.match(cleaned))


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", REL)
    html: str = self.renderToken(tokens, idx, options, env)
    return html


def _image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    if _INLINE_IMAGE.match(src):
        return f'<img src="{escapeHtml(src)}" alt="{escapeHtml(alt)}">'
    label = f"image: {alt}" if alt else "image"
    return f'<a href="{escapeHtml(src)}" rel="{REL}">{escapeHtml(label)}</a>'


@functools.lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.validateLink = safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


def render(markdown: str, *, heading_shift: int = 0) -> str:
    """``markdown`` as HTML that is safe to put in a page (see the module docstring),
    headings ``heading_shift`` levels down (at most ``<h6>``)."""
    md = _parser()
    tokens = md.parse(markdown)
    if heading_shift:
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(int(token.tag[1]) + heading_shift, 6)}"
    html: str = md.renderer.render(tokens, md.options, {})
    return html


def readme_html(markdown: str, *, heading_shift: int = 0) -> str:
    """:func:`render`, cached (the pages and the JSON API ask for the same immutable
    READMEs again and again; see :data:`SMALL_README_CHARS`).

    >>> readme_html("# Hi", heading_shift=2) is readme_html("# Hi", heading_shift=2)
    True
    """
    if len(markdown) > SMALL_README_CHARS:
        return _cached_large(markdown, heading_shift)
    return _cached_small(markdown, heading_shift)


@functools.lru_cache(maxsize=64)
def _cached_small(markdown: str, heading_shift: int) -> str:
    return render(markdown, heading_shift=heading_shift)


@functools.lru_cache(maxsize=8)
def _cached_large(markdown: str, heading_shift: int) -> str:
    return render(markdown, heading_shift=heading_shift)


def summary(markdown: str, limit: int = 300) -> str:
    """The first paragraph of plain text (no headings, code, HTML, lists or tables)."""
    for block in re.split(r"\n\s*\n", markdown.strip()):
        text = block.strip()
        if not text or text[0] in "#<!`|>-*+=~" or (text[:1].isdigit() and ". " in text[:4]):
            continue
        text = _MARKUP.sub(lambda m: m.group(1) or "", " ".join(text.split()))
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return ""
