"""Display helpers: timestamps, caption typography and safe Markdown -> HTML for answers."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

from videos.timecodes import format_timestamp  # the one copy; chat modules import it here

# Markdown without raw HTML (html=False escapes any tag in the source); nh3 then keeps
# only the tags below, so neither a transcript quote nor an LLM answer can inject markup.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable(["table", "strikethrough"])
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}

# Typing slips human captioners leave: "capillary attraction ." and "you say,, "the..."
# (the Faraday lectures' own caption files have both). A space before "!", "?", ";" or ":"
# is kept: French typography puts one there.
_SPACE_BEFORE_STOP = re.compile(r"\s+([.,])(?=\s|$)")
_DOUBLED_COMMA = re.compile(r",{2,}")


def caption_typography(text: str) -> str:
    """`text` (transcript words shown to a student: a quote, an offline answer's sentence)
    without captioners' slips: no space before a full stop or comma, no doubled comma.
    The stored transcript keeps the file's text."""
    return _DOUBLED_COMMA.sub(",", _SPACE_BEFORE_STOP.sub(r"\1", text))


def markdown_to_safe_html(text: str) -> str:
    """Render Markdown `text` to HTML that is safe to insert into a page.

    Raw HTML in the source is escaped by the renderer and the result is sanitised by nh3
    (allow-list of tags/attributes; links get rel="noopener noreferrer nofollow"; only
    http/https/mailto URLs)."""
    html = _md.render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


__all__ = ["format_timestamp", "markdown_to_safe_html"]
