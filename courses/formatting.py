"""Course descriptions: Markdown rendered to sanitised HTML (markdown-it-py + nh3)."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# Raw HTML in the source is escaped by the renderer (html=False); nh3 keeps the tags a
# course description needs (no images or tables: the card and page layouts are narrow).
_md = MarkdownIt("commonmark", {"html": False})
DESCRIPTION_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "h2", "h3",
    "h4", "a", "hr",
}  # fmt: skip


def description_html(text: str) -> str:
    """Markdown `text` -> safe HTML (links get rel="noopener noreferrer nofollow"; only
    http/https/mailto URLs survive)."""
    return nh3.clean(
        _md.render(text or ""),
        tags=DESCRIPTION_TAGS,
        attributes={"a": {"href", "title"}, "ol": {"start"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
