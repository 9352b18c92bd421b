"""READMEs: Markdown rendered to safe HTML, and a one-paragraph summary for listings.

Raw HTML in a README is shown as text, never passed through, and links with scripting
schemes (``javascript:``, ``vbscript:``, ``data:`` except images) are dropped, so a
publisher cannot put scripts on the hub's pages.

Example:
    >>> render("# Encoder\\n\\nMaps *text* to vectors. <script>x</script>")
    '<h1>Encoder</h1>\\n<p>Maps <em>text</em> to vectors. &lt;script&gt;x&lt;/script&gt;</p>\\n'
    >>> summary("# Encoder\\n\\nMaps *text* to\\nvectors.\\n\\nMore.")
    'Maps text to vectors.'
"""

from __future__ import annotations

import functools
import re
from typing import Any

_MARKUP = re.compile(r"[*_`]+|!?\[([^\]]*)\]\([^)]*\)")


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render(markdown: str) -> str:
    """``markdown`` as HTML, with any raw HTML escaped."""
    html: str = _parser().render(markdown)
    return html


def summary(markdown: str, limit: int = 300) -> str:
    """The first paragraph of plain text (no headings, code, HTML, lists or tables)."""
    for block in re.split(r"\n\s*\n", markdown.strip()):
        text = block.strip()
        if not text or text[0] in "#<!`|>-*+=~" or (text[:1].isdigit() and ". " in text[:4]):
            continue
        text = _MARKUP.sub(lambda m: m.group(1) or "", " ".join(text.split()))
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return ""
