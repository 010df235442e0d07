"""Text normalisation shared by every source: HTML to text, Unicode NFC, whitespace, comparison keys.

Why NFC: Vietnamese letters such as "ệ" exist precomposed and as base letter + combining marks; two strings that
look identical compare unequal unless both are normalised. Why a real HTML parser (lexbor via selectolax): the
seed's regex ``<.*?>`` leaves entities (``&nbsp;``, ``&amp;``) and glues list items and ``<br>`` lines together.
"""

from __future__ import annotations

import re
import unicodedata

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Elements whose content is never visible text.
_INVISIBLE = {"script", "style", "noscript", "template", "head", "svg", "iframe"}
# Elements that start a new line of text.
BLOCK_TAGS = {
    "address",
    "article",
    "aside",
    "blockquote",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "td",
    "th",
    "ul",
    "body",
    "html",
    "caption",
}

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_HTML_HINT = re.compile(r"<[a-zA-Z/!]|&[#a-zA-Z0-9]+;")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


def node_text(node: LexborNode) -> str:
    """Visible text of a node: ``<br>`` and block boundaries become newlines, list items get a "- " bullet."""
    parts: list[str] = []
    _walk(node, parts)
    return "".join(parts)


def _walk(node: LexborNode, parts: list[str]) -> None:
    """Depth-first with an explicit stack (no recursion: any nesting depth). A frame is (next sibling to visit,
    the text to add when the frame ends: a block element's closing newline)."""
    stack: list[tuple[LexborNode | None, str | None]] = [(node.child, None)]
    while stack:
        child, closing = stack.pop()
        if child is None:
            if closing is not None:
                parts.append(closing)
            continue
        stack.append((child.next, closing))
        tag = child.tag
        if child.is_text_node:
            parts.append(child.text_content or "")
        elif tag == "br":
            parts.append("\n")
        elif tag in _INVISIBLE or child.is_comment_node:
            pass
        elif tag in BLOCK_TAGS:
            parts.append("\n- " if tag == "li" else "\n")
            stack.append((child.child, "\n"))
        else:
            stack.append((child.child, None))


def html_to_text(text: str) -> str:
    """Strip tags and decode entities; plain text passes through untouched (fast path)."""
    if not looks_like_html(text):
        return text
    tree = LexborHTMLParser(text)
    root = tree.body if tree.body is not None else tree.root
    if root is None:
        return ""
    return node_text(root)


def normalize(text: str, *, single_line: bool = False) -> str:
    """NFC, collapse runs of spaces, trim every line, at most one line break between blocks."""
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text)
    if single_line:
        return " ".join(text.split())
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n", "\n".join(lines)).strip()


def clean_field(raw: str, *, single_line: bool = False) -> str:
    """HTML (if any) to text, then :func:`normalize`."""
    return normalize(html_to_text(raw), single_line=single_line)


def loose_key(text: str) -> str:
    """Comparison form: case-folded, punctuation and spacing removed, diacritics kept (they carry meaning)."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()


def words(text: str) -> list[str]:
    """Case-folded word tokens (Vietnamese syllables are words here)."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())
