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
from finadvisor.catalog.model import Service

# What a service of each kind lets the user do, as a verb phrase (team-written; the model learns to say it from
# the gist label it is given, never from the description).
ACTIONS: dict[str, list[str]] = {
    "Ăn uống": ["đặt món và trả tiền bữa ăn", "thanh toán khi đi ăn uống"],
    "Đi chợ": ["mua thực phẩm hằng ngày", "đi chợ và thanh toán gọn hơn"],
    "Tạp hóa": ["mua đồ thiết yếu ở cửa hàng gần nhà", "thanh toán khi mua đồ tạp hóa"],
    "Di chuyển": ["đặt xe cho các chuyến đi", "trả tiền các chuyến xe"],
    "Giao hàng": ["gửi và nhận hàng", "đặt giao hàng nhanh"],
    "Xăng xe": ["đổ xăng và thanh toán không cần tiền mặt", "trả tiền xăng xe"],
    "Gửi xe": ["trả phí gửi xe", "thanh toán phí đỗ xe"],
    "Bảo dưỡng xe": ["đặt lịch bảo dưỡng xe", "trả tiền sửa xe"],
    "Vé máy bay": ["đặt vé máy bay", "săn vé cho chuyến bay tới"],
    "Khách sạn": ["đặt phòng cho chuyến đi", "đặt chỗ ở khi đi xa"],
    "Du lịch": ["lên kế hoạch cho chuyến đi", "đặt dịch vụ cho chuyến du lịch"],
    "Vé xe khách": ["đặt vé xe khách", "mua vé xe đường dài"],
    "Tiền điện": ["trả hóa đơn điện đúng hạn", "thanh toán tiền điện"],
    "Tiền nước": ["trả hóa đơn nước đúng hạn", "thanh toán tiền nước"],
    "Điện nước": ["trả hóa đơn điện nước đúng hạn", "gom các hóa đơn vào một chỗ"],
    "Internet": ["trả cước internet đúng hạn", "thanh toán cước mạng"],
    "Nạp tiền điện thoại": ["nạp tiền điện thoại nhanh", "nạp tiền cho thuê bao"],
    "Gói cước 4G": ["mua gói dữ liệu di động", "đăng ký gói cước phù hợp"],
    "Âm nhạc và phim trực tuyến": ["trả phí gói xem phim và nghe nhạc", "gia hạn gói giải trí trực tuyến"],
    "Nạp game": ["nạp thẻ game", "nạp tiền vào trò chơi"],
    "Xem phim": ["đặt vé xem phim", "chọn suất chiếu và đặt vé"],
    "Giải trí": ["đặt vé cho các buổi giải trí", "thanh toán các khoản giải trí"],
    "Mua sắm trực tuyến": ["mua sắm trên mạng", "thanh toán đơn hàng trực tuyến"],
    "Mua sắm": ["thanh toán khi mua sắm", "mua sắm gọn hơn"],
    "Làm đẹp": ["đặt lịch làm đẹp", "thanh toán ở tiệm làm đẹp"],
    "Điện tử": ["mua đồ điện tử", "thanh toán khi mua thiết bị"],
    "Đồ gia dụng": ["mua đồ dùng trong nhà", "sắm đồ gia dụng"],
    "Tiền thuê nhà": ["trả tiền nhà đúng hạn", "chuyển tiền thuê nhà mỗi tháng"],
    "Phí quản lý chung cư": ["trả phí chung cư đúng hạn", "thanh toán phí quản lý tòa nhà"],
    "Học phí": ["đóng học phí đúng hạn", "thanh toán học phí"],
    "Sức khỏe": ["trả tiền khám chữa bệnh", "thanh toán khi đi khám"],
    "Bảo hiểm": ["mua bảo hiểm", "được bảo vệ trước rủi ro"],
    "Bảo hiểm xe": ["mua bảo hiểm cho xe", "gia hạn bảo hiểm xe"],
    "Bảo hiểm y tế": ["mua bảo hiểm sức khỏe", "được bảo vệ khi đi khám chữa bệnh"],
    "Bảo hiểm nhân thọ": ["mua bảo hiểm cho gia đình", "bảo vệ tài chính cho người thân"],
    "Bảo hiểm du lịch": ["mua bảo hiểm cho chuyến đi", "yên tâm hơn khi đi xa"],
    "Thể thao": ["trả phí tập luyện", "đăng ký gói tập"],
    "Chuyển tiền": ["chuyển tiền nhanh", "chuyển tiền cho người thân"],
    "Quà tặng": ["gửi quà", "tặng quà cho người thân"],
    "Từ thiện": ["quyên góp", "ủng hộ các quỹ thiện nguyện"],
    "Con cái": ["lo các khoản cho con", "mua đồ cho con"],
    "Trả nợ": ["trả nợ đúng hạn", "theo dõi các kỳ trả nợ"],
    "Tiết kiệm": ["gửi tiết kiệm", "để riêng một khoản tiết kiệm"],
    "Thuế": ["nộp thuế đúng hạn", "nộp thuế trực tuyến"],
    "Phí ngân hàng": ["theo dõi phí ngân hàng", "giảm bớt phí giao dịch"],
    "Vàng": ["tích lũy vàng", "mua vàng từng ít một"],
    "Chứng khoán": ["đầu tư chứng khoán", "bắt đầu đầu tư cổ phiếu"],
    "Quỹ đầu tư": ["đầu tư vào chứng chỉ quỹ", "đầu tư đều đặn qua quỹ"],
    "Chi tiêu khác": ["quản lý chi tiêu", "theo dõi các khoản chi"],
    "Thú cưng": ["mua đồ cho thú cưng", "chăm sóc thú cưng"],
    "Sửa chữa nhà": ["đặt thợ sửa chữa", "đặt lịch sửa chữa trong nhà"],
    "": ["quản lý tiền gọn hơn", "thanh toán nhanh trên ví"],
}
# The seeds, by kind of reason: the slots in the order the plan gives them, ``<do>`` an action of the gist, and
# ``<get>`` the benefit's verb (by the benefit's kind).
SEEDS: dict[str, list[str]] = {
    "spend": [
        "Bạn đã chi {amount} cho {category} tháng này, hãy dùng {service} để <do> ngay trên ví.",
        "Với {amount} dành cho {category}, bạn có thể mở {service} để <do> nhanh hơn.",
        "Tháng này bạn chi {amount} cho {category}, thử {service} để <do> và dễ theo dõi hơn.",
        "Khoản {amount} cho {category} sẽ gọn hơn nếu bạn dùng {service} để <do>.",
        "Bạn tiêu {amount} cho {category}, hãy thử {service} để <do> ngay trong ứng dụng.",
    ],
    "spend_top": [
        "Khoản chi lớn nhất của bạn là {amount} cho {category}, hãy dùng {service} để <do> gọn hơn.",
        "Bạn chi nhiều nhất cho {category}, tới {amount}, thử {service} để <do> ngay trên ví.",
    ],
    "spend_frequent": [
        "Bạn trả {amount} cho {category} nhiều lần trong tháng, dùng {service} để <do> cho nhanh.",
    ],
    "spend_benefit_top": [
        "Khoản chi lớn nhất của bạn là {amount} cho {category}, với {service} bạn có thể <get> {benefit}.",
    ],
    "spend_benefit_frequent": [
        "Bạn trả {amount} cho {category} thường xuyên, qua {service} bạn có thể <get> {benefit}.",
    ],
    "spend_benefit": [
        "Bạn chi {amount} cho {category}, nếu dùng {service} để <do> bạn có thể <get> {benefit}.",
        "Với {amount} cho {category} tháng này, {service} có thể giúp bạn <get> {benefit}.",
        "Tháng này bạn chi {amount} cho {category}, hãy chuyển sang {service} để <get> {benefit}.",
        "Khoản {amount} cho {category} qua {service} có thể giúp bạn <get> {benefit}.",
        "Bạn đã chi {amount} cho {category}, thử {service} để <do> và <get> {benefit}.",
    ],
    "again": [
        "Cũng cho khoản {category}, bạn có thể dùng thêm {service} để <do>.",
        "Ngoài ra, với {category} bạn có thể thử {service} để <do>.",
        "Cho khoản {category} nói trên, {service} giúp bạn <do> dễ hơn.",
    ],
    "again_benefit": [
        "Cũng cho khoản {category}, {service} có thể giúp bạn <get> {benefit}.",
        "Với {category} nói trên, thử {service} để <get> {benefit}.",
        "Ngoài ra, khoản {category} qua {service} có thể giúp bạn <get> {benefit}.",
    ],
    "idle": [
        "Bạn còn {surplus} chưa dùng đến, hãy thử {service} để <do> thay vì để tiền nằm yên.",
        "Với {surplus} còn dư tháng này, bạn có thể dùng {service} để <do>.",
        "Khoản {surplus} còn dư sẽ có ích hơn nếu bạn dùng {service} để <do>.",
        "Tháng này bạn dư {surplus}, hãy cân nhắc {service} để <do> từ từ.",
    ],
    "idle_benefit": [
        "Bạn còn {surplus} chưa dùng đến, gửi vào {service} có thể giúp khoản này sinh lời {benefit}.",
        "Với {surplus} còn dư, {service} có thể giúp tiền của bạn sinh lời {benefit}.",
        "Khoản {surplus} còn dư của bạn nếu để ở {service} có thể sinh lời {benefit}.",
        "Thay vì để yên {surplus} trong ví, bạn hãy thử {service} để sinh lời {benefit}.",
    ],
    "debt": [
        "Khoản {category} {amount} tháng này sẽ dễ theo dõi hơn nếu bạn dùng {service} để <do>.",
        "Với khoản {category} {amount}, bạn có thể dùng {service} để <do> và tránh phí trễ hạn.",
        "Bạn có khoản {category} {amount}, hãy thử {service} để <do> đúng hạn.",
    ],
    "other": [
        "Tháng này bạn chi {spent}, hãy thử {service} để <do>.",
        "Với tổng chi {spent} trong tháng, {service} giúp bạn <do> dễ hơn.",
        "Bạn đã chi {spent} tháng này, dùng {service} để <do> ngay trên ví.",
    ],
    "other_bare": [
        "Bạn có thể thử {service} để <do> ngay trên ví.",
        "Hãy khám phá {service} để <do> dễ dàng hơn mỗi ngày.",
    ],
}
GET = {"cashback": ["nhận lại", "được hoàn"], "discount": ["tiết kiệm", "bớt được"], "yield": ["nhận thêm"]}
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
