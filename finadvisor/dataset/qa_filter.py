"""What a usable LLM-written Q&A pair looks like, checked after the model has answered (``dataset generate``).

Written after reading what the packaged Qwen2.5-Coder-0.5B actually proposed over the fixture corpus
(docs/DATASET.md, "On the real model"): a small model under a JSON schema fills the fields, but often not with
a question and its answer. It labels answers ("Đáp án: …"), copies a statement of the text into ``question``
and the same statement into ``answer``, asks about the text itself ("Đoạn văn này nói gì?"), pastes the whole
chunk, or drifts into Chinese mid-sentence. Labels are stripped; the rest is dropped with a reason that the
report counts, so a run says what went wrong instead of silently keeping it.
"""

from __future__ import annotations

import re

from finadvisor.dataset.text import loose_key, words

# "Đáp án:", "Trả lời:", "Câu trả lời 1:", "A:", "Answer -" ... at the start (repeated labels too).
_ANSWER_LABEL = re.compile(
    r"^\s*(?:(?:câu\s+)?trả\s+lời|đáp\s+án|đáp|answer|a)\s*\d{0,2}\s*[:：.\-–]\s*", re.IGNORECASE
)
# "Câu hỏi:", "Câu 3:", "Đoạn văn thứ 14:" (the model numbering the text's paragraphs), "2." ...
_QUESTION_LABEL = re.compile(
    r"^\s*(?:câu\s+hỏi|hỏi|question|q|câu\s+\d{1,3}|đoạn(?:\s+văn)?(?:\s+thứ)?\s+\d{1,3})"
    r"\s*\d{0,2}\s*[:：.\-–]\s*|^\s*\d{1,2}\s*[.)]\s+",
    re.IGNORECASE,
)
# Scripts that never belong in a Vietnamese help-centre answer: CJK, kana, Hangul, Cyrillic, Thai, Arabic.
_FOREIGN = re.compile(
    r"[\u0400-\u04ff\u0600-\u06ff\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uac00-\ud7af\uff00-\uff60]"
)
# Questions about the source text rather than about the product.
_ABOUT_TEXT = re.compile(
    r"\b(?:đoạn\s+văn|văn\s+bản|đoạn\s+này|câu\s+trả\s+lời\s+này|câu\s+hỏi\s+này|"
    r"trang\s+này|bài\s+viết)\b",
    re.IGNORECASE,
)
# A "Câu 14:" label inside a question: the model ran the text's previous item into the one it meant to ask.
_INNER_LABEL = re.compile(r"(?:^|\s)câu\s+\d{1,3}\s*[:：.]\s*", re.IGNORECASE)
MAX_QUESTION_CHARS = 250


def strip_label(text: str, *, question: bool = False) -> str:
    pattern = _QUESTION_LABEL if question else _ANSWER_LABEL
    previous = None
    while previous != text:
        previous, text = text, pattern.sub("", text, count=1)
    if question:
        text = _INNER_LABEL.split(text)[-1]  # "…? Câu 14: Địa chỉ văn phòng ở đâu?" -> the last question
    return text.strip()


def _share_in(inner: list[str], outer: set[str]) -> float:
    return sum(1 for t in inner if t in outer) / len(inner) if inner else 0.0


def problem(question: str, answer: str, chunk: str) -> str | None:
    """The drop reason of a cleaned, label-stripped pair, or None when it is usable (grounding aside)."""
    if _FOREIGN.search(question) or _FOREIGN.search(answer):
        return "foreign_script"
    if not question.endswith("?"):
        return "not_a_question"
    if len(question) > MAX_QUESTION_CHARS or question.count("?") > 1:
        return "not_one_question"
    if len(words(question)) < 3:  # "Trang chủ?"
        return "too_short"
    if "?" in answer:  # the model answered with (or ran into) the text's next question
        return "answer_is_a_question"
    if _ABOUT_TEXT.search(question) or _ABOUT_TEXT.search(answer):
        return "about_the_text"
    q_key, a_key = loose_key(question), loose_key(answer)
    q_words, a_words = words(question), words(answer)
    if (
        a_key == q_key
        or a_key.startswith(q_key)
        or (
            0.6 * len(q_words) <= len(a_words) <= len(q_words) + 2 and _share_in(a_words, set(q_words)) >= 0.9
        )
    ):
        return "answer_repeats_question"  # but a short "Không bao giờ." to a yes/no question is an answer
    chunk_key = loose_key(chunk)
    if len(chunk_key) > 300 and len(a_key) >= 0.8 * len(chunk_key):
        return "copies_whole_text"
    return None


def reused_answers(pairs: list[tuple[str, str]]) -> set[int]:
    """Indexes of pairs whose answer another pair of the same reply also carries, except the one whose question
    shares most words with it (the model shifted answers by one: question 2 got answer 3, as did question 3)."""
    groups: dict[str, list[int]] = {}
    for index, (_question, answer) in enumerate(pairs):
        groups.setdefault(loose_key(answer), []).append(index)
    dropped: set[int] = set()
    for indexes in groups.values():
        if len({loose_key(pairs[i][0]) for i in indexes}) > 1:  # the same pair twice is the dedup's business

            def overlap(i: int) -> int:
                return len(set(words(pairs[i][0])) & set(words(pairs[i][1])))

            keep = max(indexes, key=overlap)
            dropped |= {i for i in indexes if i != keep}
    return dropped
