"""The checks of LLM-written pairs, on replies the real default model gave over the fixture corpus (issue 15.9)."""

from __future__ import annotations

import json

import pytest

from finadvisor.dataset.generate import (
    EXAMPLE_CHUNK,
    EXAMPLE_REPLY,
    GenerateConfig,
    generate_dataset,
    prompt_messages,
)
from finadvisor.dataset.llm import EngineLLM
from finadvisor.dataset.qa_filter import problem, reused_answers, strip_label
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.fake import FakeEngine

NOTES = (
    "Ví Mẫu là ví điện tử thử nghiệm. Phí rút tiền là 2.000đ mỗi lần từ lần thứ tư trong tháng.\n"
    "Hạn mức nạp tiền tối đa 20 triệu đồng mỗi ngày. Hotline hỗ trợ của Ví Mẫu là 1900 0000, hoạt động 24/7."
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Đáp án: Phí rút tiền là 2.000đ mỗi lần.", "Phí rút tiền là 2.000đ mỗi lần."),
        ("Trả lời: Đáp án - Có.", "Có."),
        ("Câu trả lời 1: Miễn phí.", "Miễn phí."),
        ("A: Miễn phí.", "Miễn phí."),
        ("Đáp ứng điều kiện là đủ.", "Đáp ứng điều kiện là đủ."),  # a word that starts like a label stays
        ("Answer nhanh", "Answer nhanh"),
    ],
)
def test_answer_labels_are_stripped(raw: str, clean: str):
    assert strip_label(raw) == clean


def test_question_labels_and_numbers_are_stripped():
    assert strip_label("Câu hỏi: Phí rút tiền là bao nhiêu?", question=True) == "Phí rút tiền là bao nhiêu?"
    assert strip_label("2. Hạn mức là bao nhiêu?", question=True) == "Hạn mức là bao nhiêu?"
    assert strip_label("Hỏi 3: Có mất phí không?", question=True) == "Có mất phí không?"
    assert strip_label("Câu 1: Ví có gọi hỏi OTP không?", question=True) == "Ví có gọi hỏi OTP không?"
    # seen on the real model: it numbers the text's paragraphs in front of a good question
    assert (
        strip_label("Đoạn văn thứ 14: Địa chỉ văn phòng ở đâu?", question=True) == "Địa chỉ văn phòng ở đâu?"
    )


# (question, answer, reason): pairs the real model proposed (first run, prompt qa-v1), and two good ones
REAL = [
    (
        "Hạn mức nạp tiền tối đa 20 triệu đồng mỗi ngày.",
        "Hạn mức nạp tiền tối đa 20 triệu đồng mỗi ngày.",
        "not_a_question",
    ),
    (
        "Hạn mức nạp tiền tối đa 20 triệu đồng mỗi ngày?",
        "Hạn mức nạp tiền tối đa 20 triệu đồng mỗi ngày.",
        "answer_repeats_question",
    ),
    (
        "Đoạn văn này cung cấp câu trả lời này hữu ích không?",
        "Câu trả lời này hữu ích không",
        "about_the_text",
    ),
    (
        "Phí rút tiền là bao nhiêu? Rút tiền miễn phí 3次",
        "Rút tiền miễn phí 3 lần mỗi tháng",
        "foreign_script",
    ),
    ("Trả lời quá ngắn? Có.", "Có. Phí rút tiền là 2.000đ.", "not_a_question"),
    ("Phí rút tiền là bao nhiêu? Hạn mức là bao nhiêu?", "Phí rút tiền là 2.000đ.", "not_one_question"),
    ("Trang chủ?", "Đoạn này không thuộc câu hỏi nào.", "too_short"),
    ("Ví Mẫu có trang chủ không?", "Đoạn này không thuộc câu hỏi nào.", "about_the_text"),
    (
        "Bạn có thể đặt sẵn số tiền và lời nhắn trong mã?",
        "15. Tôi có thể hẹn lịch chuyển tiền định kỳ không?",
        "answer_is_a_question",
    ),
    ("Đoạn văn này có bao giờ gọi điện hỏi mã OTP không?", "Không bao giờ.", "about_the_text"),
    # second run (prompt qa-v2): a short "no" to a yes/no question is an answer, an echo is not
    ("FinAdvisor Ví có bao giờ gọi điện hỏi mã OTP không?", "Không bao giờ.", None),
    (
        "Việc giảm giới hạn có hiệu lực ngay?",
        "Việc giảm giới hạn có hiệu lực ngay.",
        "answer_repeats_question",
    ),
    ("Trả lời quá ngắn thì sao?", "Có. Phí chuyển tiền là bao nhiêu? Miễn phí.", "answer_is_a_question"),
    ("Phí rút tiền là bao nhiêu?", NOTES, None),  # NOTES is < 300 characters: not "the whole text"
    (
        "Phí rút tiền của Ví Mẫu là bao nhiêu?",
        "Từ lần thứ tư trong tháng, mỗi lần rút tiền mất phí 2.000đ.",
        None,
    ),
    ("Hotline hỗ trợ hoạt động khi nào?", "Hotline 1900 0000 hoạt động 24/7.", None),
]


@pytest.mark.parametrize(("question", "answer", "reason"), REAL)
def test_problems_of_real_replies(question: str, answer: str, reason: str | None):
    assert problem(question, answer, NOTES) == reason


def test_a_label_inside_a_question_keeps_the_question_after_it():
    raw = "Tôi có cần cập nhật ứng dụng thường xuyên không? Câu 15: Tôi nhận được tin nhắn trúng thưởng, có đúng không?"
    assert strip_label(raw, question=True) == "Tôi nhận được tin nhắn trúng thưởng, có đúng không?"


def test_an_answer_given_to_two_questions_stays_with_the_one_it_answers():
    pairs = [
        (
            "Tiền đã bị trừ nhưng giao dịch báo thất bại thì xử lý thế nào?",
            "Lời nhắn kèm giao dịch chuyển tiền dài tối đa 120 ký tự.",
        ),
        (
            "Lời nhắn khi chuyển tiền được dài bao nhiêu ký tự?",
            "Lời nhắn kèm giao dịch chuyển tiền dài tối đa 120 ký tự.",
        ),
        ("Có hẹn lịch chuyển tiền được không?", "Có, trong mục Chuyển định kỳ."),
    ]
    assert reused_answers(pairs) == {0}


def test_an_answer_that_pastes_a_long_chunk_is_dropped():
    chunk = " ".join([NOTES] * 3)
    assert problem("Ví Mẫu là gì?", chunk, chunk) == "copies_whole_text"


def test_the_prompt_carries_one_worked_example_that_passes_our_own_checks():
    messages = prompt_messages("Một đoạn văn.", 3)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert json.loads(messages[2]["content"]) == EXAMPLE_REPLY and "Một đoạn văn." in messages[3]["content"]
    for pair in EXAMPLE_REPLY["pairs"]:
        assert problem(pair["question"], pair["answer"], EXAMPLE_CHUNK) is None


async def test_generate_strips_labels_and_counts_each_reason(tmp_path):
    pairs = [
        {
            "question": "Câu hỏi: Phí rút tiền là bao nhiêu?",
            "answer": "Đáp án: Phí rút tiền là 2.000đ mỗi lần từ lần thứ tư trong tháng.",
        },
        {"question": REAL[0][0], "answer": REAL[0][1]},
        {
            "question": "Hotline hỗ trợ của Ví Mẫu là 1900 0000?",
            "answer": "Hotline hỗ trợ của Ví Mẫu là 1900 0000.",
        },
        {"question": "Đoạn văn này nói về gì?", "answer": "Ví Mẫu là ví điện tử thử nghiệm."},
    ]

    def script(request: GenerationRequest) -> str:
        return json.dumps({"pairs": pairs}, ensure_ascii=False)

    text = tmp_path / "notes.txt"
    text.write_text(NOTES, encoding="utf-8")
    out = tmp_path / "gen.jsonl"
    report = await generate_dataset(
        [text], out, EngineLLM(FakeEngine(script=script)), GenerateConfig(pairs_per_chunk=4)
    )
    assert report.kept == 1
    assert report.dropped == {"not_a_question": 1, "answer_repeats_question": 1, "about_the_text": 1}
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["messages"][1]["content"] == "Phí rút tiền là bao nhiêu?"
    assert row["messages"][2]["content"] == "Phí rút tiền là 2.000đ mỗi lần từ lần thứ tư trong tháng."
