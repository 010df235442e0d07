"""Issues 23 and 28: the advisor reads spending it has never seen, abstains rather than guesses, and reads money in
and out as a wallet does. Each failure class of the issues has its own case, on small catalogs built here (names
and catalogs the lexicon was not written for)."""

from __future__ import annotations

import json

import pytest

from finadvisor.advisor.category_map import load_category_map
from finadvisor.advisor.evidence import Facts
from finadvisor.advisor.ranker import Ranker
from finadvisor.advisor.topics import load_topics
from finadvisor.advisor.wording import compose_summary
from finadvisor.catalog import CatalogIndex, HashEmbedder, Service
from finadvisor.history import SpendingHistory
from tests.advisor.conftest import HISTORY

# another company's catalog, with an app deep-link scheme, brand-like names and descriptions that name a city or
# share a syllable with unrelated spending
CATALOG = [
    (
        "Nước Sạch",
        "zz://water",
        "Thanh toán tiền nước sinh hoạt cho các công ty cấp nước tại Đà Lạt, Hà Nội.",
    ),
    ("Boss Ơi", "zz://pet", "Mua thức ăn, cát vệ sinh và đặt lịch spa, khám thú y cho chó mèo."),
    ("Vé Vui", "zz://movie", "Đặt vé xem phim CGV, Lotte Cinema, Galaxy; combo bắp nước giảm 20%."),
    ("Thẻ Game", "zz://gamecard", "Mua thẻ game Garena, Zing, Steam Wallet và thẻ cào điện thoại."),
    ("Trả Thẻ", "zz://card-repay", "Thanh toán dư nợ thẻ tín dụng mọi ngân hàng, đúng hạn, không mất phí."),
    ("Bay Xa", "zz://flight", "Đặt vé máy bay Vietjet, Vietnam Airlines, Bamboo với giá tốt."),
    ("Xăng Ngay", "zz://fuel", "Thanh toán tiền xăng dầu tại cây xăng Petrolimex, PVOIL ngay trên xe."),
    ("Heo Đất", "zz://yield", "Tiền nhàn rỗi tự động sinh lời với lãi suất 4,5%/năm, rút ra bất cứ lúc nào."),
    ("Chứng chỉ quỹ", "zz://fund", "Đầu tư chứng chỉ quỹ mở từ 50.000 đồng."),
    ("Sổ Chi Tiêu", "zz://budget", "Quản lý chi tiêu: đặt hạn mức chi tiêu theo tháng và nhận cảnh báo."),
    ("Nạp Điện Thoại", "zz://topup", "Nạp tiền điện thoại trả trước Viettel, MobiFone, VinaPhone."),
    ("ZZ Later", "zz://paylater", "Mua trước trả sau, trả góp 0% cho đơn hàng."),
    ("Giải Trí Số", "zz://streaming", "Gia hạn Netflix, Spotify, YouTube Premium, FPT Play trên ví."),
]


@pytest.fixture(scope="module")
def ranker() -> Ranker:
    services = [Service(service=n, link=link, description=d) for n, link, d in CATALOG]
    return Ranker(CatalogIndex.build(services, HashEmbedder()), load_category_map())


def _h(spending: list[tuple[str, int]], earning: list[tuple[str, int]] = ()) -> SpendingHistory:  # type: ignore[assignment]
    return SpendingHistory.model_validate(
        {
            "earning": [{"name": n, "amount": a, "count": 1} for n, a in earning],
            "spending": [{"name": n, "amount": a, "count": 2} for n, a in spending],
        }
    )


def _tied(ranker: Ranker, history: SpendingHistory) -> dict[str, set[str]]:
    """Each shown service and the spending lines it was tied to (a fallback is tied to none)."""
    return {p.service.link: {c.name for c in p.categories()} for p in ranker.rank(history)}


# ------------------------------------------------------------------------------------ abstain rather than guess
def test_a_holiday_named_by_its_place_is_never_the_water_bill_of_that_place(ranker: Ranker) -> None:
    tied = _tied(ranker, _h([("Đà Lạt 3 ngày 2 đêm", 6_000_000), ("Tiền nước", 200_000)]))
    assert "Đà Lạt 3 ngày 2 đêm" not in tied.get("zz://water", set())
    assert tied["zz://water"] == {"Tiền nước"}  # the water bill is tied to the water bill only


def test_a_wedding_gets_no_pet_food_and_no_cinema(ranker: Ranker) -> None:
    tied = _tied(ranker, _h([("Đám cưới bạn thân Hùng", 1_000_000), ("Sửa máy giặt", 450_000)]))
    assert all(not lines for lines in tied.values())  # nothing fits: only what is true for everyone
    assert not {"zz://pet", "zz://movie"} & set(tied)


def test_a_card_statement_is_answered_by_card_repayment_not_game_cards(ranker: Ranker) -> None:
    tied = _tied(ranker, _h([("Thanh toán sao kê thẻ tín dụng", 8_000_000), ("Ăn uống", 1_000_000)]))
    assert "Thanh toán sao kê thẻ tín dụng" in tied["zz://card-repay"]
    assert "zz://gamecard" not in tied and "zz://topup" not in tied
    assert "zz://paylater" not in tied  # never more credit for a debt


@pytest.mark.parametrize(
    ("descriptor", "link"),
    [
        ("MOMO*CIRCLEK 123", None),  # a convenience store: this catalog has no service for it, so nothing
        ("PAYPAL *STEAM", "zz://gamecard"),
        ("GOOGLE *YouTubePremium", "zz://streaming"),
        ("VNPAY*PETROLIMEX 24", "zz://fuel"),
        ("NETFLIX.COM", "zz://streaming"),
    ],
)
def test_card_and_wallet_descriptors_are_read_as_their_merchant(
    ranker: Ranker, descriptor: str, link: str | None
) -> None:
    tied = {link_ for link_, lines in _tied(ranker, _h([(descriptor, 500_000)])).items() if lines}
    assert tied == ({link} if link else set())


def test_snacks_at_the_cinema_are_cinema_not_the_water_bill(ranker: Ranker) -> None:
    tied = _tied(ranker, _h([("bắp nước rạp phim", 180_000)]))
    assert "zz://water" not in tied and "bắp nước rạp phim" in tied["zz://movie"]


def test_a_domain_like_name_is_kept_in_the_summary() -> None:
    facts = Facts.of(_h([("APPLE.COM/BILL", 259_000), ("Ăn uống", 100_000)]))
    assert "APPLE.COM/BILL (259.000 đ, 72%)" in compose_summary(facts)


def test_learned_names_are_read_and_change_the_lexicon_version(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.advisor.topics import TOPICS_PATH
    from finadvisor.advisor.topics import load_topics as load

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / TOPICS_PATH.name).write_text(TOPICS_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    plain = load(folder / TOPICS_PATH.name)
    assert plain.read("Tiệm Bà Tư").how == "abstained"
    (folder / "learned_names.csv").write_text(
        "name,topic,note\nTiệm Bà Tư,education,a bookshop\n", encoding="utf-8"
    )
    from finadvisor.advisor import topics as topics_module

    topics_module._load.cache_clear()
    learned = load(folder / TOPICS_PATH.name)
    reading = learned.read("tiem ba tu")
    assert reading.how == "learned" and reading.topic is not None and reading.topic.id == "education"
    assert learned.version != plain.version  # an edited learned file is new advice (the cache key changes)


# ------------------------------------------------------------------------------------------ a wallet's reading
def test_money_received_is_not_income_and_no_saving_rate_is_claimed() -> None:
    facts = Facts.of(
        _h([("Ăn uống", 400_000)], [("Nhận tiền", 3_000), ("Hoàn tiền", 20_000), ("Cashback", 5_000)])
    )
    assert facts.earned == 0 and facts.received == 28_000
    summary = compose_summary(facts)
    assert "thu nhập" not in summary and "để dành" not in summary and "chi nhiều hơn" not in summary
    assert "Ví của bạn nhận thêm 28.000 đ" in summary


def test_salary_is_income_beside_other_money_in() -> None:
    facts = Facts.of(_h([("Ăn uống", 4_000_000)], [("Lương tháng 6", 20_000_000), ("Nhận tiền", 1_000_000)]))
    assert facts.earned == 20_000_000 and facts.received == 1_000_000
    assert "có thu nhập 20.000.000 đ" in compose_summary(facts)
    kinds = {c.name: c.kind for c in facts.earnings}
    assert kinds == {"Lương tháng 6": "income", "Nhận tiền": "inflow"}


@pytest.mark.parametrize(
    "line",
    [
        "Chuyển tiền vào Số dư sinh lời",
        "Mua chứng chỉ quỹ",
        "Tích lũy vàng",
        "Gửi tiết kiệm online",
        "Nạp tiền chứng khoán",
    ],
)
def test_a_transfer_into_own_savings_or_investments_is_not_spending(line: str) -> None:
    facts = Facts.of(_h([(line, 5_000_000), ("Ăn uống", 1_000_000)], [("Lương", 20_000_000)]))
    assert facts.spent == 1_000_000 and [c.name for c in facts.categories] == ["Ăn uống"]
    assert [c.name for c in facts.saved] == [line] and facts.saved[0].kind in ("saving", "investing")
    summary = compose_summary(facts)
    assert "Chi nhiều nhất cho Ăn uống (1.000.000 đ, 100%)" in summary
    assert f"để riêng 5.000.000 đ cho tiết kiệm và đầu tư ({line})" in summary


def test_a_service_in_use_is_not_recommended_and_one_not_used_yet_is(ranker: Ranker) -> None:
    history = _h(
        [("Nạp tiền điện thoại", 200_000), ("Chuyển tiền vào Heo Đất", 1_000_000), ("Mua thẻ game", 100_000)],
        [("Nhận tiền", 2_000_000)],
    )
    facts = ranker.facts(history)
    assert {"zz://topup", "zz://yield", "zz://gamecard"} <= set(ranker.in_use(facts))
    assert facts.saved and facts.saved[0].name == "Chuyển tiền vào Heo Đất"  # a line naming the service
    picks = ranker.rank(history)
    assert any(not p.in_use for p in picks)
    assert not {"zz://topup", "zz://yield", "zz://gamecard"} & {p.service.link for p in picks if not p.in_use}


def test_a_bill_paid_by_bank_transfer_or_at_the_merchant_is_not_the_apps_service_in_use() -> None:
    lexicon = load_topics()
    assert lexicon.in_app("Thanh toán hóa đơn điện") and lexicon.in_app("Dịch vụ viễn thông")
    assert not lexicon.in_app("Chuyển khoản tiền điện EVN") and not lexicon.in_app("EVN HCMC")
    assert not lexicon.in_app("Gửi tiết kiệm Vietcombank")  # an outside bank, not the app's savings


def test_idle_money_may_grow_a_yield_account_already_in_use_and_says_so(ranker: Ranker) -> None:
    history = _h([("Chuyển tiền vào Heo Đất", 200_000), ("Ăn uống", 2_000_000)], [("Lương", 40_000_000)])
    picks = ranker.rank(history)
    used = [p for p in picks if p.in_use]
    assert all(
        e.kind == "surplus" for p in used for e in p.evidence
    )  # only for a further use: a larger balance
    from finadvisor.advisor.wording import template_reason

    facts = ranker.facts(history)
    for i, p in enumerate(picks):
        if p.in_use:
            assert template_reason(p, facts, picks[:i]).startswith(f"Bạn đã dùng {p.service.service}.")


def test_two_reasons_never_open_with_the_same_fact(demo_ranker: Ranker) -> None:
    from finadvisor.advisor.wording import template_reason

    history = SpendingHistory.model_validate({"spending": [{"name": "Thuốc", "amount": 450000, "count": 3}]})
    picks = demo_ranker.rank(history)
    facts = demo_ranker.facts(history)
    openings = [template_reason(p, facts, picks[:i]).split(". ")[0] for i, p in enumerate(picks)]
    assert len(openings) == len(set(openings))


def test_the_budget_planner_needs_a_reason(ranker: Ranker) -> None:
    calm = _h([("Ăn uống", 1_000_000)], [("Lương", 10_000_000)])
    assert "zz://budget" not in {p.service.link for p in ranker.rank(calm)}
    debt = _h([("Trả nợ thẻ tín dụng", 3_000_000), ("Ăn uống", 1_000_000)], [("Lương", 10_000_000)])
    assert "zz://budget" in {p.service.link for p in ranker.rank(debt)}


# ------------------------------------------------------------------------------------------------- explanations
def test_explain_shows_how_each_line_was_read(ranker: Ranker) -> None:
    history = _h(
        [("PAYPAL *STEAM", 300_000), ("Tên lạ chưa từng thấy", 100_000), ("Mua chứng chỉ quỹ", 1_000_000)],
        [("Nhận tiền", 500_000)],
    )
    explained = ranker.explain(history)
    lines = {line["name"]: line for line in explained["lines"]}
    assert lines["PAYPAL *STEAM"]["topic"] == "games" and lines["PAYPAL *STEAM"]["read_by"] == "descriptor"
    assert (
        lines["Tên lạ chưa từng thấy"]["read_by"] == "abstained"
        and lines["Tên lạ chưa từng thấy"]["topic"] is None
    )
    assert lines["Mua chứng chỉ quỹ"]["kind"] == "investing" and lines["Nhận tiền"]["kind"] == "inflow"
    assert explained["chosen"] and all(c["score"] >= 0 for c in explained["candidates"])
    json.dumps(explained, ensure_ascii=False)  # JSON-able, for the API's debug field


async def test_the_debug_field_is_for_the_operator_only(make_client, advisor_settings) -> None:  # type: ignore[no-untyped-def]
    async for c in make_client():
        r = await c.post("/api/recommendations?explain=true", json={"history": HISTORY})
        assert r.status_code == 200 and "debug" in r.json()  # no key configured: the local operator
        assert "debug" not in (await c.post("/api/recommendations", json={"history": HISTORY})).json()


async def test_the_debug_field_needs_the_key_when_one_is_set(advisor_settings) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.app import create_app
    from finadvisor.engines.fake import FakeEngine
    from tests.advisor.conftest import good_script
    from tests.helpers import started_client

    settings = advisor_settings.model_copy(update={"api_key": "sekret", "public_demo": True})
    async for c in started_client(create_app(settings, engine=FakeEngine(script=good_script))):
        anonymous = await c.post("/api/recommendations?explain=true", json={"history": HISTORY})
        assert anonymous.status_code in (401, 403) and "debug" not in anonymous.text
        operator = await c.post(
            "/api/recommendations?explain=true",
            json={"history": HISTORY},
            headers={"Authorization": "Bearer sekret"},
        )
        assert operator.status_code == 200 and operator.json()["debug"]["lines"]


async def test_a_domain_like_name_is_never_cut_from_the_answer(make_client) -> None:  # type: ignore[no-untyped-def]
    """Link stripping once removed "APPLE.COM/BILL" and left "Chi nhiều nhất cho (259.000 đ, 71%)"; a name with
    an explicit link still loses the link."""
    history = {
        "spending": [
            {"name": "APPLE.COM/BILL", "amount": 259000, "count": 1},
            {"name": "Ăn uống", "amount": 100000, "count": 2},
            {"name": "Quà http://evil.example", "amount": 5000, "count": 1},
        ]
    }
    async for c in make_client():
        body = (await c.post("/api/recommendations", json={"history": history})).json()
        assert "APPLE.COM/BILL (259.000 đ, 71%)" in body["summarization"]
        assert "evil.example" not in json.dumps(body)


def test_the_catalogs_topic_file_is_written_and_a_reviewed_row_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each service's topics are written next to the index once; a person corrects a row, and the ranker follows."""
    services = [Service(service=n, link=link, description=d) for n, link, d in CATALOG]
    fresh = Ranker(CatalogIndex.build(services, HashEmbedder()), load_category_map())
    path = tmp_path / "service_topics.csv"
    fresh.use_topic_file(path)
    rows = path.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "link,service,name_topics,description_topic,reviewed" and len(rows) == len(CATALOG) + 1
    assert "zz://movie,Vé Vui,,movies," in rows  # a brand-like name, read from its description
    before = fresh.topic_file_version
    # product people decide "Boss Ơi" also serves haircuts (a pet groomer): they mark the row reviewed
    edited = [r if not r.startswith("zz://pet,") else "zz://pet,Boss Ơi,,beauty,yes" for r in rows]
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    reviewed = Ranker(CatalogIndex.build(services, HashEmbedder()), load_category_map())
    reviewed.use_topic_file(path)
    assert "zz://pet" in _tied(reviewed, _h([("Cắt tóc", 120_000)]))
    assert "zz://pet" not in _tied(fresh, _h([("Cắt tóc", 120_000)]))
    assert "zz://pet,Boss Ơi,,beauty,yes" in path.read_text(encoding="utf-8")  # kept when written again
    assert reviewed.topic_file_version != before  # part of the cache key


def test_a_transfer_into_a_brand_named_savings_service_is_saving_even_beside_a_transfer_service() -> None:
    """The catalog's own "Chuyển tiền" service once read "Chuyển tiền vào Heo Đất" as a transfer (spending)."""
    services = [Service(service=n, link=link, description=d) for n, link, d in CATALOG]
    services.append(
        Service(service="Chuyển tiền", link="zz://transfer", description="Chuyển tiền miễn phí 24/7.")
    )
    ranker = Ranker(CatalogIndex.build(services, HashEmbedder()), load_category_map())
    facts = ranker.facts(
        _h([("Chuyển tiền vào Heo Đất", 500_000), ("Tiền nhà", 6_000_000)], [("Salary", 38_000_000)])
    )
    assert [c.name for c in facts.saved] == ["Chuyển tiền vào Heo Đất"] and facts.spent == 6_000_000


def test_a_catalog_larger_than_the_topic_files_bound_is_read_per_request(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Reading every service of a 100k catalog at open would cost minutes: above the bound no file is written
    and nothing is read until a request needs it."""
    from finadvisor.advisor import service_topics

    monkeypatch.setattr(service_topics, "MAX_SERVICES", 3)
    services = [Service(service=n, link=link, description=d) for n, link, d in CATALOG]
    big = Ranker(CatalogIndex.build(services, HashEmbedder()), load_category_map())
    big.use_topic_file(tmp_path / "service_topics.csv")
    assert not (tmp_path / "service_topics.csv").exists() and not big._service_topics
    assert "zz://fuel" in _tied(big, _h([("Đổ xăng", 500_000)]))  # read when asked
