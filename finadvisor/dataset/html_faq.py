"""HTML FAQ pages: schema.org FAQPage structured data first, then numbered questions followed by their answers.

Structured data (JSON-LD and microdata, :mod:`structured_faq`) is read first; the layout heuristics below cover
pages without it and the questions it leaves out; :func:`merge` says which wins when both hold a question.

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

from finadvisor.dataset.document import Document
from finadvisor.dataset.items import QAItem, Skips
from finadvisor.dataset.structured_faq import StructuredPair, jsonld_pairs, microdata_pairs
from finadvisor.dataset.text import BLOCK_TAGS, loose_key, normalize, words

_DROP = "script, style, noscript, template, nav, header, footer, aside, form, svg, iframe"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "dt", "summary"}
_NUMBERED = re.compile(
    r"^\s*(?:câu(?:\s+hỏi)?\s*)?(\d{1,3})\s*[.):：\-–]\s*(\S.*)$", re.IGNORECASE | re.DOTALL
)


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
    """Depth-first over ``node``'s descendants with an explicit stack, not recursion: a page nested 100,000 deep
    is read like any other instead of raising RecursionError. A frame is (next sibling to visit, the block tag
    its text belongs to, the tag to flush when the frame ends: a block element's own)."""
    stack: list[tuple[LexborNode | None, str, str | None]] = [(node.child, tag, None)]
    while stack:
        child, level, closing = stack.pop()
        if child is None:
            if closing is not None:
                _flush(out, buf, closing)
            continue
        stack.append((child.next, level, closing))  # the siblings, after this child's subtree
        if child.is_text_node:
            buf.append(child.text_content or "")
        elif child.tag == "br":
            buf.append("\n")
        elif child.is_element_node and child.tag in BLOCK_TAGS:
            _flush(out, buf, level)
            stack.append((child.child, child.tag or level, child.tag))
        elif child.is_element_node:
            stack.append((child.child, level, None))


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
        jsonld = jsonld_pairs(tree, skips)  # before the <script> elements are dropped
        microdata = microdata_pairs(tree, skips)
        title_node = tree.css_first("title")
        category = normalize(title_node.text(), single_line=True) if title_node is not None else None
        root = tree.body
        layout: list[tuple[tuple[str | None, str], str]] = []
        if root is not None:
            for node in root.css(_DROP):
                node.decompose()
            layout = list(_layout_pairs(root, skips))
        elif not jsonld:
            skips["html:no_body"] += 1
            return
        items = list(merge(doc.origin, category, jsonld, microdata, layout, skips))
        if not items:
            skips["html:no_numbered_questions"] += 1
        yield from items


def _layout_pairs(root: LexborNode, skips: Skips) -> Iterator[tuple[tuple[str | None, str], str]]:
    """(number, question) and answer text, by the layout heuristics of the module docstring."""
    current: tuple[str | None, str] | None = None
    answer: list[str] = []
    for block in blocks(root):
        question = question_of(block)
        if question is not None or (block.tag in _HEADINGS and current is not None):
            if current is not None:
                yield from _finish(current, answer, skips)
            current, answer = question, []
            continue
        if current is not None:
            answer.append(f"- {block.text}" if block.tag == "li" else block.text)
    if current is not None:
        yield from _finish(current, answer, skips)


def _finish(
    question: tuple[str | None, str], answer: list[str], skips: Skips
) -> Iterator[tuple[tuple[str | None, str], str]]:
    if not answer:
        skips["html:question_without_answer"] += 1
        return
    yield question, "\n".join(answer)


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _numbers(text: str) -> set[str]:
    return {re.sub(r"[.,]", "", n) for n in _NUMBER.findall(text)}


def _contained(inner: str, outer: str) -> float:
    tokens = words(inner)
    outer_words = set(words(outer))
    return sum(1 for t in tokens if t in outer_words) / len(tokens) if tokens else 0.0


def agrees(structured: str, visible: str) -> bool:
    """The same answer: one text holds (nearly) all the other's words, and no number differs between them."""
    if max(_contained(structured, visible), _contained(visible, structured)) < 0.9:
        return False
    a, b = _numbers(structured), _numbers(visible)
    return a <= b or b <= a


def merge(
    origin: str,
    category: str | None,
    jsonld: list[StructuredPair],
    microdata: list[StructuredPair],
    layout: list[tuple[tuple[str | None, str], str]],
    skips: Skips,
) -> Iterator[QAItem]:
    """Structured data first, the layout heuristics for the rest; the visible text wins a disagreement.

    * Microdata annotates visible elements, so it *is* the visible text with exact boundaries: it replaces the
      layout heuristics' version of the same question.
    * JSON-LD is read first and kept whenever the page shows nothing else for its question, or shows the same
      answer (:func:`agrees`); its boundaries are exact, where the heuristics guess.
    * When the page shows a different answer (another fee, a missing condition), the visible one is kept and
      ``html:jsonld_disagrees_with_page`` is counted: the customer reads the page and the help-centre team edits
      it, while JSON-LD is usually generated once by an SEO plugin and goes stale (search engines, too, require
      FAQ markup to match the visible content, so the markup is the defect).
    * Visible questions that the structured data lacks (it often marks up only some) are added after it.
    """
    visible: dict[str, tuple[str, str, str, str | None]] = {}  # key -> question, answer, component, ref
    for pair in microdata:
        visible.setdefault(
            loose_key(pair.question),
            (pair.question, pair.answer, "faq.microdata", f"microdata question {pair.index}"),
        )
    for (number, question), answer in layout:
        visible.setdefault(
            loose_key(question), (question, answer, "faq.html", f"question {number}" if number else None)
        )
    used: set[str] = set()
    for pair in jsonld:
        key = loose_key(pair.question)
        if key in used:
            continue
        used.add(key)
        shown = visible.get(key)
        if shown is not None and not agrees(pair.answer, shown[1]):
            skips["html:jsonld_disagrees_with_page"] += 1
            yield QAItem(shown[0], shown[1], origin, "html", shown[2], category, shown[3])
        else:
            yield QAItem(
                pair.question,
                pair.answer,
                origin,
                "html",
                "faq.jsonld",
                category,
                f"jsonld question {pair.index}",
            )
    for key, (question, answer, component, ref) in visible.items():
        if key not in used:
            used.add(key)
            yield QAItem(question, answer, origin, "html", component, category, ref)
