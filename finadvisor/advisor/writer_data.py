"""The model writer's training pairs (issue 24, item 4): team-written seed sentences with placeholders, per kind
of reason and kind of service, widened by recombining their parts offline, on synthetic histories ranked
against catalogs that are not the writer's evaluation sets, kept only where the writer's own gate passes.

    python -m finadvisor.advisor.writer_data --out data/writer/raw.jsonl          # then: finadvisor dataset build

Each pair is the exact prompt the advisor sends (``slot_writer.messages``) and one sentence with placeholders.
Nothing here reads an evaluation set: the histories are drawn from the lexicon's own phrases with a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from finadvisor.advisor import slot_writer
from finadvisor.advisor.writer_seeds import ACTIONS, GET, SEEDS
from finadvisor.catalog.model import Service

# catalogs the writer may learn on: never the writer's evaluation catalogs (heldout8, heldout9)
TRAIN_CATALOGS = (
    "catalog_demo.json",
    "catalog_dev_sunpay.json",
    "catalog_lazycat.json",
    "catalog_heldout_vbank.json",
    "catalog_heldout3_hanabank.json",
    "catalog_heldout3_zpay.json",
    "catalog_heldout4_mocha.json",
    "catalog_heldout5_vtpay.json",
)
# Figures a training catalog's service is given when it states none, so every kind of benefit has examples: the
# augmented text only feeds the catalog facts of the training pairs, never a served catalog.
FIGURES = {
    "yield": ["Lãi suất {r}%/năm, rút linh hoạt.", "Sinh lời {r}%/năm."],
    "cashback": ["Hoàn tiền {p}% tối đa {cap}.000đ/tháng.", "Hoàn {p}% cho mỗi giao dịch."],
    "discount": ["Giảm {p}% tối đa {cap}.000đ/tháng.", "Giảm giá {p}% khi thanh toán qua ví."],
}
INCOME = ["Lương", "Lương tháng", "Salary", "Thu nhập kinh doanh", "Lương hưu"]


def seed_key(plan: slot_writer.SlotPlan) -> str:
    if plan.kind == "other" and "spent" not in plan.slots:
        return "other_bare"
    return plan.kind


def targets(plan: slot_writer.SlotPlan, rng: random.Random) -> Iterator[str]:
    """Every seed of the plan's kind, with an action of its gist and a verb of its benefit, shuffled."""
    key = seed_key(plan)
    seeds = list(SEEDS.get(key, []))
    if plan.top:
        seeds += SEEDS.get(f"{key}_top", [])
    if plan.frequent:
        seeds += SEEDS.get(f"{key}_frequent", [])
    rng.shuffle(seeds)
    actions = ACTIONS.get(plan.gist) or ACTIONS[""]
    for seed in seeds:
        text = seed.replace("<do>", rng.choice(actions))
        if "<get>" in text:
            verbs = GET.get(plan.benefit_kind)
            if not verbs:
                continue
            text = text.replace("<get>", rng.choice(verbs))
        yield text


PER_PLAN = 3  # sentences kept per reason: several wordings of the same facts


def augmented(service: Service, rng: random.Random) -> Service:
    """Half of the services that state no figure get one that fits what they are (a yield for a place for money)."""
    from finadvisor.advisor.catalog_facts import extract

    if extract(service) or rng.random() < 0.5:
        return service
    text = f"{service.service} {service.description}".lower()
    kind = (
        "yield"
        if any(w in text for w in ("tiết kiệm", "tích lũy", "sinh lời", "quỹ"))
        else rng.choice(["cashback", "discount"])
    )
    figure = rng.choice(FIGURES[kind]).format(
        r=rng.choice(["3,5", "4", "4,5", "5,2", "6"]),
        p=rng.choice([1, 2, 3, 5, 10]),
        cap=rng.choice([20, 50, 100, 200]),
    )
    return service.model_copy(update={"description": f"{service.description.rstrip()} {figure}"})


def synthetic_history(rng: random.Random, names: dict[str, list[str]]) -> dict[str, object]:
    """A month drawn from the lexicon's own phrases: 1-6 spending topics, income for about half the users."""
    topics = rng.sample(sorted(names), k=rng.randint(1, 6))
    spending: list[dict[str, Any]] = []
    for topic in topics:
        name = rng.choice(names[topic])
        spending.append(
            {
                "name": name[:1].upper() + name[1:],
                "amount": rng.randint(5, 900) * 10_000,
                "count": rng.randint(1, 12),
            }
        )
    total = sum(int(s["amount"]) for s in spending)
    earning = []
    if rng.random() < 0.7:
        earning.append(
            {"name": rng.choice(INCOME), "amount": int(total * rng.uniform(0.9, 5.0)) // 10_000 * 10_000}
        )
    return {"earning": earning, "spending": spending}


def pairs(data: Path, n_histories: int, seed: int = 0) -> Iterator[dict[str, object]]:
    from finadvisor.advisor.catalog_facts import CatalogFacts
    from finadvisor.advisor.category_map import load_category_map
    from finadvisor.advisor.faithfulness import Checker
    from finadvisor.advisor.ranker import Ranker
    from finadvisor.advisor.topics import load_topics
    from finadvisor.history import SpendingHistory

    rng = random.Random(seed)
    lexicon = load_topics()
    names: dict[str, list[str]] = {}
    for phrase, topic_id in lexicon.phrase_topics().items():
        topic = lexicon.topics.get(topic_id)
        if (
            topic is not None
            and topic.flow == "spending"
            and topic_id not in ("other", "transfer")
            and len(phrase) > 3
        ):
            names.setdefault(topic_id, []).append(phrase)
    for catalog_name in TRAIN_CATALOGS:
        services = [
            augmented(Service.model_validate(s), rng) for s in json.loads((data / catalog_name).read_text())
        ]
        index = _MemoryIndex(services)
        ranker = Ranker(index, load_category_map())  # type: ignore[arg-type]
        catalog = CatalogFacts.extract_all(services)
        for _ in range(n_histories):
            history = SpendingHistory.model_validate(synthetic_history(rng, names))
            facts, picks = ranker.read_and_rank(history)
            if not picks:
                continue
            for i, pick in enumerate(picks):
                plan = slot_writer.plan_for(pick, facts, picks[:i], catalog, ranker.topic_label)
                checker = Checker(facts, picks, slot_writer.prompt_text(plan), "", catalog)
                kept = 0
                for target in targets(plan, rng):
                    sentence = slot_writer.fill(plan, target)
                    if not slot_writer.gate(plan, target, sentence, checker, pick):
                        yield {
                            "messages": [
                                *slot_writer.messages(plan),
                                {"role": "assistant", "content": target},
                            ],
                            "meta": {"kind": plan.kind, "catalog": catalog_name, "gist": plan.gist},
                        }
                        kept += 1
                        if kept == PER_PLAN:
                            break


class _MemoryIndex:
    """Just enough of a catalog index for the ranker (no embedder: names the lexicon does not read abstain)."""

    def __init__(self, services: Sequence[Service]) -> None:
        self._services = list(services)
        self.version = "writer-data"
        self.index_dir = None

    def services(self) -> list[Service]:
        return self._services

    def get(self, link: str) -> Service | None:
        return next((s for s in self._services if s.link == link), None)

    def search_weighted(self, *_: object, **__: object) -> list[object]:
        return []  # no retrieval: the topic file's reading is what the ranker uses for a known topic


def main() -> None:
    ap = argparse.ArgumentParser(description="Build the model writer's raw training pairs (ChatML JSONL).")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--histories", type=int, default=60, help="synthetic histories per training catalog")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = Path(__file__).resolve().parents[1] / "data"
    seen: set[str] = set()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, int] = {}
    with args.out.open("w", encoding="utf-8") as f:
        for pair in pairs(data, args.histories, args.seed):
            key = json.dumps(pair["messages"], ensure_ascii=False)
            if key in seen:
                continue
            seen.add(key)
            kind = str(pair["meta"]["kind"])  # type: ignore[index]
            kinds[kind] = kinds.get(kind, 0) + 1
            f.write(
                key.join(
                    ['{"messages": ', ', "meta": ' + json.dumps(pair["meta"], ensure_ascii=False) + "}\n"]
                )
            )
    print(json.dumps({"pairs": len(seen), "by_kind": kinds}, ensure_ascii=False))


if __name__ == "__main__":
    main()
