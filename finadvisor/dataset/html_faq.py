"""HTML FAQ pages: numbered questions, each followed by its answer as paragraphs and bullet lists.

The page is flattened into text blocks in document order (a block is the text between two block-level
boundaries; ``<br>`` is a line break, ``<li>`` a bullet). A block is a *question* when it starts with a number
("1.", "2)", "Câu 3:") and ends with "?" or is a heading, or when it is a heading ending with "?". The answer is
every block after it up to the next question or section heading. Navigation, header, footer and scripts are
dropped before flattening.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from finadvisor.dataset.items import QAItem, Skips
from finadvisor.dataset.sources import Document
from finadvisor.dataset.text import BLOCK_TAGS, normalize

_DROP = "script, style, noscript, template, nav, header, footer, aside, form, svg, iframe"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "dt", "summary"}
_NUMBERED = re.compile(r"^\s*(?:câu(?:\s+hỏi)?\s*)?(\d{1,3})\s*[.):：\-–]\s*(\S.*)$", re.IGNORECASE | re.DOTALL)


@dataclass
class Block:
    tag: str
    text: str


def blocks(root: LexborNode) -> list[Block]:
    out: list[Block] = []
    buf: list[str] = []
    _collect(root, out, buf, root.tag or "body")
    _flush(out, buf, root.tag or "body")
    return out


def _flush(out: list[Block], buf: list[str], tag: str) -> None:
    if buf:
        text = normalize("".join(buf))
        buf.clear()
        if text:
            out.append(Block(tag, text))


def _collect(node: LexborNode, out: list[Block], buf: list[str], tag: str) -> None:
    child = node.child
    while child is not None:
        if child.is_text_node:
            buf.append(child.text_content or "")
        elif child.tag == "br":
            buf.append("\n")
        elif child.is_element_node and child.tag in BLOCK_TAGS:
            _flush(out, buf, tag)
            _collect(child, out, buf, child.tag)
            _flush(out, buf, child.tag)
        elif child.is_element_node:
            _collect(child, out, buf, tag)
        child = child.next


def question_of(block: Block) -> tuple[str | None, str] | None:
    """(number, question text) if the block is a question, else None."""
    if block.tag == "li":
        return None
    text = " ".join(block.text.split())
    match = _NUMBERED.match(text)
    if match and (text.endswith("?") or block.tag in _HEADINGS):
        return match.group(1), match.group(2).strip()
    if block.tag in _HEADINGS and text.endswith("?"):
        return None, text
    return None


class HtmlFaqSource:
    name = "html"

    def parse(self, doc: Document, skips: Skips) -> Iterator[QAItem]:
        tree = LexborHTMLParser(doc.read())
        root = tree.body
        if root is None:
            skips["html:no_body"] += 1
            return
        for node in root.css(_DROP):
            node.decompose()
        title_node = tree.css_first("title")
        category = normalize(title_node.text(), single_line=True) if title_node is not None else None
        current: tuple[str | None, str] | None = None
        answer: list[str] = []
        found = 0
        for block in blocks(root):
            question = question_of(block)
            if question is not None or (block.tag in _HEADINGS and current is not None):
                if current is not None:
                    found += 1
                    yield from self._emit(doc.origin, current, answer, category, skips)
                current, answer = question, []
                continue
            if current is not None:
                answer.append(f"- {block.text}" if block.tag == "li" else block.text)
        if current is not None:
            found += 1
            yield from self._emit(doc.origin, current, answer, category, skips)
        if not found:
            skips["html:no_numbered_questions"] += 1

    @staticmethod
    def _emit(origin: str, question: tuple[str | None, str], answer: list[str], category: str | None,
              skips: Skips) -> Iterator[QAItem]:
        if not answer:
            skips["html:question_without_answer"] += 1
            return
        number, text = question
        yield QAItem(text, "\n".join(answer), origin, "html", "faq.html", category,
                     f"question {number}" if number else None)
