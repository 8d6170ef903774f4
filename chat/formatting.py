"""Display helpers: timestamps and safe Markdown -> HTML for answers."""

from __future__ import annotations

import math

import nh3
from markdown_it import MarkdownIt

# Markdown without raw HTML (html=False escapes any tag in the source); nh3 then keeps
# only the tags below, so neither a transcript quote nor an LLM answer can inject markup.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable(["table", "strikethrough"])
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


def format_timestamp(seconds: float | int | None) -> str:
    """Seconds -> "m:ss" under an hour, "h:mm:ss" from an hour (342 -> "5:42",
    3665 -> "1:01:05"). Fractions are floored (the player seeks to the whole second);
    None or negative -> "0:00"."""
    if seconds is None or not math.isfinite(float(seconds)) or seconds < 0:
        seconds = 0
    total = math.floor(float(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


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
