"""Display helpers: timestamps and safe Markdown -> HTML for answers."""

from __future__ import annotations

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
