"""The model writer (issue 24): the model words one sentence with placeholders, code fills every figure, the
gate decides what is shown, and the template stands in (counted) when no candidate passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from finadvisor.advisor import slot_writer
from finadvisor.advisor.catalog_facts import CatalogFacts
from finadvisor.advisor.faithfulness import Checker
from finadvisor.engines.base import GenerationRequest
from finadvisor.history import SpendingHistory
from tests.advisor.conftest import HISTORY


@pytest.fixture(scope="module")
def case(demo_ranker):  # type: ignore[no-untyped-def]
    history = SpendingHistory.model_validate(HISTORY)
    facts, picks = demo_ranker.read_and_rank(history)
    catalog = CatalogFacts.extract_all(demo_ranker.index.services())
    plans = [
        slot_writer.plan_for(p, facts, picks[:i], catalog, demo_ranker.topic_label)
        for i, p in enumerate(picks)
    ]
    return facts, picks, catalog, plans


def _spend(case):  # type: ignore[no-untyped-def]
    facts, picks, catalog, plans = case
    i = next(i for i, p in enumerate(plans) if p.kind.startswith("spend"))
    return facts, picks, catalog, plans[i], picks[i]


def sentence_for(plan: slot_writer.SlotPlan) -> str:
    """A well-formed sentence with the plan's slots in order."""
    words = {
        "amount": "Bạn đã chi {amount}",
        "category": "cho {category}",
        "service": "hãy dùng {service}",
        "benefit": {"discount": "để tiết kiệm {benefit}", "yield": "để sinh lời {benefit}"}.get(
            plan.benefit_kind, "để nhận lại {benefit}"
        ),
        "surplus": "Bạn còn {surplus} chưa dùng đến",
        "spent": "Tháng này bạn chi {spent}",
    }
    text = " ".join(words[s] for s in plan.slots)
    text = text if text[0].isupper() else "Tháng này " + text
    return text + " ngay trên ví."


def test_the_plan_states_the_facts_as_slots_and_the_prompt_has_no_figure(case) -> None:  # type: ignore[no-untyped-def]
    facts, picks, _catalog, plan, pick = _spend(case)
    assert plan.slots[:2] == ("amount", "category") and "service" in plan.slots
    assert plan.values["service"] == pick.service.service
    line = next(c for c in facts.categories if c.name == plan.values["category"])
    assert plan.values["amount"] == f"{round(line.amount):,}".replace(",", ".") + " đ"
    prompt = " ".join(m["content"] for m in slot_writer.messages(plan))
    assert not re.search(r"\d", prompt)  # no figure to copy wrong
    assert pick.service.description[:40] not in prompt  # nor the description to copy


def test_the_grammar_holds_each_slot_once_in_order_and_bounds_every_repeat(case) -> None:  # type: ignore[no-untyped-def]
    plan = _spend(case)[3]
    gbnf = slot_writer.grammar(plan)
    root = gbnf.splitlines()[0]
    assert [m for m in re.findall(r'"\{(\w+)\}"', root)] == list(plan.slots)
    assert not re.search(r"[*+]\s*$|[*+]\s", gbnf.replace("\\\\", ""))  # no unbounded repeat
    assert "0-9" in gbnf and '"."' in gbnf  # no digits; ends on a full stop


def test_fill_refuses_missing_repeated_or_unknown_slots(case) -> None:  # type: ignore[no-untyped-def]
    plan = _spend(case)[3]
    good = sentence_for(plan)
    filled = slot_writer.fill(plan, good)
    assert filled is not None and "{" not in filled and plan.values["amount"] in filled
    assert slot_writer.fill(plan, good.replace("{service}", "dịch vụ")) is None
    assert slot_writer.fill(plan, good + " {amount}") is None
    assert slot_writer.fill(plan, good.replace("{service}", "{service} {iban}")) is None


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda s: s.replace("ngay trên ví", "với 5 lần"), "digit"),
        (lambda s: s.replace("ngay trên ví", "để săn chép món ngon"), "vocabulary"),
        (lambda s: s.replace("ngay trên ví", "miễn phí trọn đời"), "promises"),
        (lambda s: s.replace("ngay trên ví", "và nên chi thêm"), "spending more"),
        (lambda s: s.replace("Bạn", "Anh").replace("bạn", "anh"), "'bạn'"),
        (lambda s: s.replace("ngay trên ví", "cho khách hàng"), "scaffolding"),
        (lambda s: s.replace("{category}", "x{category}"), "glued"),
    ],
)
def test_the_gate_refuses_what_a_user_must_not_read(case, edit, problem) -> None:  # type: ignore[no-untyped-def]
    facts, picks, catalog, plan, pick = _spend(case)
    checker = Checker(facts, picks, slot_writer.SYSTEM, "", catalog)
    good = sentence_for(plan)
    assert slot_writer.gate(plan, good, slot_writer.fill(plan, good), checker, pick) == []
    bad = edit(good)
    found = slot_writer.gate(plan, bad, slot_writer.fill(plan, bad), checker, pick)
    assert any(problem in p for p in found), found


def test_the_gate_refuses_a_copy_of_the_description_and_claims_it_cannot_back(case) -> None:  # type: ignore[no-untyped-def]
    facts, picks, catalog, plan, pick = _spend(case)
    checker = Checker(facts, picks, slot_writer.SYSTEM, "", catalog)
    copied = sentence_for(plan).replace("ngay trên ví", pick.service.description.rstrip("."))
    copied = re.sub(r"\d", "", copied)
    found = slot_writer.gate(plan, copied, slot_writer.fill(plan, copied), checker, pick)
    assert any("copies" in p for p in found), found
    if not plan.top:  # "your largest spending" only of the largest
        big = sentence_for(plan).replace("ngay trên ví", "khoản lớn nhất")
        assert any(
            "largest" in p for p in slot_writer.gate(plan, big, slot_writer.fill(plan, big), checker, pick)
        )


def _slot_script(request: GenerationRequest) -> str:
    """A model that writes each slot of the prompt in order, in a plain sentence."""
    order = request.messages[-1]["content"].rsplit(":", 1)[1]
    slots = re.findall(r"\{(\w+)\}", order)
    said = request.messages[-1]["content"]
    kind = next((k for k, w in slot_writer.BENEFIT_WORDS.items() if f"Lợi ích: {w}" in said), "")
    plan = slot_writer.SlotPlan(tuple(slots), dict.fromkeys(slots, "x"), "spend", "", "", kind)
    return sentence_for(plan)


def _model_writer_client(settings, script):  # type: ignore[no-untyped-def]
    from finadvisor.app import create_app
    from finadvisor.engines.fake import FakeEngine
    from tests.helpers import started_client

    engine = FakeEngine(script=script)
    app = create_app(settings.model_copy(update={"advisor_writer": "model"}), engine=engine)
    app.state.test_engine = engine
    return started_client(app)


async def test_the_model_writer_shows_filled_sentences_and_counts_them(advisor_settings) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.advisor.audit import audit_answer
    from finadvisor.catalog import demo_catalog_path

    async for c in _model_writer_client(advisor_settings, _slot_script):
        r = await c.post("/api/recommendations", json={"history": HISTORY})
        assert r.status_code == 200, r.text
        answer = r.json()
        n = len(answer["recommendations"])
        assert all("{" not in rec["recommendation"] for rec in answer["recommendations"])
        assert audit_answer(HISTORY, answer, demo_catalog_path()) == []
        metrics = (await c.get("/metrics")).text
        assert f'finadvisor:advisor_reasons_total{{writer="model"}} {float(n)}' in metrics
        engine = c._transport.app.state.test_engine  # type: ignore[attr-defined]
        assert len(engine.calls) == n  # the first candidate passed each time
        assert all(call.max_tokens == slot_writer.MAX_TOKENS for call in engine.calls)


async def test_when_no_candidate_passes_the_template_stands_in_and_is_counted(advisor_settings) -> None:  # type: ignore[no-untyped-def]
    script = lambda _r: "Bạn chi 999.999 đ cho {category} ở {service} và {amount}."  # noqa: E731
    async for c in _model_writer_client(advisor_settings, script):
        app = c._transport.app  # type: ignore[attr-defined]
        r = await c.post("/api/recommendations", json={"history": HISTORY})
        assert r.status_code == 200, r.text
        n = len(r.json()["recommendations"])
        metrics = (await c.get("/metrics")).text
        assert f'finadvisor:advisor_reasons_total{{writer="template"}} {float(n)}' in metrics
        assert 'advisor_fallbacks_total{kind="template_reason"}' in metrics
        assert len(app.state.test_engine.calls) == n * app.state.advisor.candidates


def test_the_training_pairs_pass_the_gate_and_never_use_an_evaluation_catalog() -> None:
    from finadvisor.advisor import writer_data

    assert not any(f"heldout{n}" in c for c in writer_data.TRAIN_CATALOGS for n in (8, 9, 10, 11))
    data = Path(writer_data.__file__).resolve().parents[1] / "data"
    pairs = []
    for pair in writer_data.pairs(data, 4, seed=3):
        pairs.append(pair)
        if len(pairs) == 12:
            break
    assert pairs
    for pair in pairs:
        system, user, answer = (m["content"] for m in pair["messages"])  # type: ignore[index]
        assert system == slot_writer.SYSTEM and "{service}" in answer and not re.search(r"\d", answer)
        order = re.findall(r"\{(\w+)\}", user.rsplit(":", 1)[1])
        assert re.findall(r"\{(\w+)\}", answer) == order


def test_writer_model_on_the_packaged_model_asks_for_the_shipped_adapter(tmp_path: Path) -> None:
    from finadvisor.advisor.build import WRITER_ADAPTER, packaged_writer_adapter, with_writer_adapter
    from finadvisor.settings import Settings

    shipped = packaged_writer_adapter()
    assert shipped is not None  # the wheel carries it (finadvisor/data/writer_lora)
    model = with_writer_adapter(Settings(engine="llamacpp", advisor_writer="model", cache_dir=tmp_path))
    assert model.advisor_writer_adapter == WRITER_ADAPTER and model.lora == [f"{WRITER_ADAPTER}={shipped}"]
    # not for the template, not on another model, not over an adapter the user named
    assert with_writer_adapter(Settings(engine="llamacpp", cache_dir=tmp_path)).lora == []
    big = Settings(
        engine="llamacpp", advisor_writer="model", model=str(tmp_path / "b.gguf"), cache_dir=tmp_path
    )
    assert with_writer_adapter(big).lora == []
    mine = Settings(
        engine="llamacpp",
        advisor_writer="model",
        advisor_writer_adapter="mine",
        lora=["mine=x"],
        cache_dir=tmp_path,
    )
    assert with_writer_adapter(mine).lora == ["mine=x"]


def test_the_shipped_adapter_is_the_one_its_sha256_names() -> None:
    import hashlib

    from finadvisor.advisor.build import packaged_writer_adapter

    path = packaged_writer_adapter()
    assert path is not None
    want = (path.parent / "adapter.gguf.sha256").read_text().split()[0]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == want


@pytest.mark.slow
async def test_the_packaged_model_with_the_shipped_adapter_writes_reasons_that_pass(
    default_model: Path, tmp_path: Path
) -> None:
    """The real thing, once: llama.cpp, the grammar, the shipped LoRA, the gate. Every reason is either the
    model's (slots filled, passing the audit) or the counted template."""
    from finadvisor.advisor.audit import audit_answer
    from finadvisor.advisor.build import standalone_advisor
    from finadvisor.catalog import demo_catalog_path
    from finadvisor.settings import Settings

    settings = Settings(  # the packaged model, where the test session assembled it; the index in tmp_path
        engine="llamacpp",
        advisor_writer="model",
        cache_dir=default_model.parents[1],
        index_dir=tmp_path / "index",
        embedder="hash",
    )
    async with standalone_advisor(settings) as advisor:
        assert advisor.writer_adapter is not None
        result = await advisor.recommend(SpendingHistory.model_validate(HISTORY), bypass_cache=True)
    answer = result.response.model_dump()
    assert audit_answer(HISTORY, answer, demo_catalog_path()) == []
    written = result.quality["written_by"]
    assert set(written) <= {"model", "template"} and "model" in written, result.quality
    for rec, who in zip(answer["recommendations"], written, strict=True):
        assert "{" not in rec["recommendation"]
        if who == "model":
            assert rec["recommendation"].endswith(".") and "bạn" in rec["recommendation"].lower()


def test_the_gate_refuses_sentences_that_misread_whose_money_went_where(case) -> None:  # type: ignore[no-untyped-def]
    facts, picks, catalog, plans = case
    checker = Checker(facts, picks, slot_writer.SYSTEM, "", catalog)
    i = next(i for i, p in enumerate(plans) if p.kind.startswith("idle"))  # the demo user keeps 71% of income
    plan, pick = plans[i], picks[i]
    benefit = " và sinh lời {benefit}" if "benefit" in plan.slots else ""
    good = f"Bạn còn {{surplus}} chưa dùng đến, hãy thử {{service}} để tiền không nằm yên{benefit}."
    assert slot_writer.gate(plan, good, slot_writer.fill(plan, good), checker, pick) == []
    saved = f"Bạn đã tiết kiệm {{surplus}} cho {{service}}, thật tuyệt vời cho bạn{benefit}."
    found = slot_writer.gate(plan, saved, slot_writer.fill(plan, saved), checker, pick)
    assert any("already went into" in p for p in found) and any("idle money" in p for p in found), found
    if benefit:  # "thử {benefit}" says nothing of what the figure is
        vague = good.replace("sinh lời {benefit}", "thử {benefit}")
        found = slot_writer.gate(plan, vague, slot_writer.fill(plan, vague), checker, pick)
        assert any("not led by" in p for p in found), found


def test_a_brace_that_is_no_slot_is_never_shown(case) -> None:  # type: ignore[no-untyped-def]
    plan = _spend(case)[3]
    good = sentence_for(plan)
    assert slot_writer.fill(plan, good) is not None
    assert slot_writer.fill(plan, good.replace("ngay trên ví", "với {Amount}")) is None  # no grammar upstream
    assert slot_writer.fill(plan, good.replace("ngay trên ví", "ngay trên ví }")) is None


async def test_an_engine_error_on_one_reason_gives_that_reason_the_template(advisor_settings) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.errors import EngineUnavailable

    def failing(_request: GenerationRequest) -> str:
        raise EngineUnavailable("the model went away")

    async for c in _model_writer_client(advisor_settings, failing):
        r = await c.post("/api/recommendations", json={"history": HISTORY})
        assert r.status_code == 200, r.text  # the answer stands, every reason the template's
        n = len(r.json()["recommendations"])
        metrics = (await c.get("/metrics")).text
        assert f'finadvisor:advisor_reasons_total{{writer="template"}} {float(n)}' in metrics


async def test_a_writer_adapter_that_is_not_loaded_is_a_config_error(advisor_settings) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.advisor.build import standalone_advisor
    from finadvisor.errors import ConfigError

    settings = advisor_settings.model_copy(
        update={"advisor_writer": "model", "advisor_writer_adapter": "nope"}
    )
    with pytest.raises(ConfigError, match="nope"):
        async with standalone_advisor(settings):
            pass
