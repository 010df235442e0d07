"""The spending-topic lexicon: merchants, codes and unaccented names get a topic; the ranker uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from finadvisor.advisor.category_map import load_category_map
from finadvisor.advisor.ranker import Ranker
from finadvisor.advisor.topics import load_topics
from finadvisor.catalog import CatalogIndex, HashEmbedder, demo_catalog_path, load_catalog
from finadvisor.errors import ConfigError
from finadvisor.history import SpendingHistory

DATA = Path(__file__).resolve().parents[2] / "finadvisor" / "data"


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("Grab", "transport"),
        ("GrabFood", "food_delivery"),
        ("Highlands Coffee Vincom", "food"),
        ("Petrolimex", "fuel"),
        ("Long Châu", "health"),
        ("Shopee", "online_shopping"),
        ("EVN HCMC", "electricity"),
        ("FOOD_AND_BEVERAGE", "food"),
        ("tien dien", "electricity"),
        ("Phí gửi xe chung cư", "parking"),
        ("Thế Giới Di Động", "electronics"),  # the longest phrase decides, not "di động"
        ("Tiền điện thoại", "phone"),  # not electricity
        ("Be", "transport"),  # the app, as a whole name only ...
        ("Bé", None),
        ("Đồ dùng cho bé", "kids"),  # ... never "bé"
        ("Vay", "debt"),
        ("Chi tiêu gia đình", None),
        ("Chợ Bà Chiểu", None),
        ("Rượu vang", None),
        ("CP sinh hoạt", None),
        ("Zalo.com", None),
        ("Mua điện thoại", "electronics"),
        ("Tiền phòng khách sạn", "hotels"),
        ("Phí quản lý tài khoản", "bank_fees"),
        ("Thuốc lá", "other"),
        ("Váy áo", None),
        ("Thuê xe", None),  # no ambiguous short words ("vay", "thue")
        ("Tên lạ chưa từng thấy", None),
    ],
)
def test_names_get_their_topic(name: str, topic: str | None) -> None:
    found = load_topics().topic_of(name)
    assert (found.id if found else None) == topic


def test_every_label_is_a_category_map_name() -> None:
    """A label the map lacks is allowed only where the demo catalog has no fitting service (retrieval decides)."""
    names = {n.lower() for n in load_category_map().names()}
    lexicon = load_topics()
    assert len(lexicon) >= 40
    assert sorted(
        t.label for t in lexicon.topics.values() if t.label.lower() not in names and not t.earning
    ) == ["Bảo hiểm du lịch", "Giao hàng", "Sửa chữa nhà", "Thú cưng", "Thể thao", "Tiền thuê nhà"]


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("Chuyển khoản tiền nhà", "rent"),
        ("Chuyển khoản học thêm cho con", "education"),  # what, not how
        ("Chuyển tiền nhà cho chủ trọ", "rent"),
        ("Chuyển tiền vào Số dư sinh lời", "savings"),
        ("Dịch vụ viễn thông", "phone"),
        ("Vận chuyển & Giao hàng", "delivery"),  # the post's own categories
        ("Circle K", "convenience"),
        ("Manulife", "life_insurance"),
        ("Motorbike taxi", "transport"),
        ("International flights (Singapore)", "flights"),
        ("Quán net", "games"),
        ("Nhà sách Fahasa", "education"),
        ("Bảo hiểm xe máy", "vehicle_insurance"),
        ("Nhạc premium", "streaming"),
        ("Chuyển tiền cho gia đình", "transfer"),
        ("Ví điện tử", "transfer"),
        ("Cà phê Mèo Đen", "food"),
        ("Gửi xe ô tô", "parking"),
        ("Grab xe máy", "transport"),
        ("Power bank", None),
        ("Video call", None),
        ("Du lịch nước ngoài", "travel"),
        ("Nộp thuế điện tử", "tax"),
        ("Chuyen tien cho me", "transfer"),
        ("Tiền chợ", "groceries"),  # "tiền cho" is not "tiền chợ"
        ("SHP_ECOM_MARKETPLACE", "online_shopping"),
        ("TRN.RIDEHAIL", "transport"),
        ("RETAIL_CVS", "convenience"),
        ("FIN_BNPL_REPAY", "debt"),  # even where the phrases overlap ("chuyển tiền", "tiền nhà")
        ("Chuyển tiền", "transfer"),
        ("P2P_TRANSFER", "transfer"),  # only a transfer when it says nothing else
        ("Khám bệnh cho mèo", "pets"),  # whose spending it was decides
        ("Gửi tiền cho con du học Nhật", "remittance"),
        ("Nhà hàng Nhật", "food"),
    ],
)
def test_a_way_of_paying_yields_to_what_was_paid_for(name: str, topic: str | None) -> None:
    found = load_topics().topic_of(name)
    assert (found.id if found else None) == topic


def test_every_phrase_of_the_lexicon_names_its_own_topic() -> None:
    """Each row's phrases, read as a category name, give that row's topic (the first row naming a phrase keeps
    it): the precedence rules (a transfer yields, pets lead) must not steal a row's own words ("Chuyển tiền cho
    gia đình" once read as groceries through the folded "tiền chợ")."""
    import csv

    from finadvisor.advisor.category_map import fold
    from finadvisor.advisor.topics import TOPICS_PATH

    lexicon = load_topics()
    rows = list(
        csv.reader(
            line
            for line in TOPICS_PATH.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")
        )
    )[1:]
    owner: dict[tuple[bool, str], str] = {}  # money in is read apart from spending: its own owners
    for row in rows:
        earning = lexicon.topics[row[0]].earning
        for phrase in row[3].split("|"):
            if phrase and not phrase.startswith("="):
                owner.setdefault((earning, fold(phrase)), row[0])

    def read(phrase: str, earning: bool) -> str | None:
        topic = lexicon.earning_topic(phrase) if earning else lexicon.topic_of(phrase)
        return topic.id if topic else None

    wrong = [
        (phrase, found, owner[(earning, fold(phrase))])
        for row in rows
        if (earning := lexicon.topics[row[0]].earning) in (True, False)
        for phrase in row[3].split("|")
        if phrase and not phrase.startswith("=")
        if (found := read(phrase, earning)) != owner[(earning, fold(phrase))]
    ]
    assert wrong == []


def test_a_description_is_about_the_topic_it_names_first() -> None:
    lexicon = load_topics()
    lead = lexicon.lead_topic("Đi chợ online: mua rau củ, thịt cá, sữa từ siêu thị, giao hàng và trả góp")
    assert lead is not None and lead.id == "groceries"
    # the earliest of a topic's phrases counts, not where its longest one sits; a catalog's text is read with
    # its diacritics ("phổ thông" is not "phở"), whatever the tone placement ("hoá"/"hóa")
    text = "Đóng học phí cho trường mầm non, phổ thông và đại học."
    assert lexicon.lead_topic(text, accents=True).id == "education"  # type: ignore[union-attr]
    assert (
        lexicon.lead_topic("Tiết kiệm linh hoạt: mua vàng hoặc gửi tiết kiệm", accents=True).id == "savings"
    )  # type: ignore[union-attr]
    assert [t.id for t in lexicon.topics_in("Thanh toán hoá đơn", accents=True)] == ["utilities"]
    assert [t.id for t in lexicon.topics_in("Tiền điện thoại và tiền nước")][:2] == ["phone", "water"]
    assert lexicon.lead_topic("Dịch vụ gì đó") is None


def test_includes_are_read_and_checked(tmp_path: Path) -> None:
    assert set(load_topics().topics["utilities"].includes) == {"electricity", "water", "internet"}
    bad = tmp_path / "topics.csv"
    bad.write_text(
        "topic,label,query,names,includes\nbills,Hóa đơn,hóa đơn,hóa đơn,power\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"includes unknown topics \['power'\]"):
        load_topics(bad)


def test_a_broken_lexicon_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "topics.csv"
    bad.write_text("topic,label,query,names\nfood,Ăn uống\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"topics.csv, line 2"):
        load_topics(bad)


def _h(*names: str) -> SpendingHistory:
    return SpendingHistory.model_validate(
        {"spending": [{"name": n, "amount": 1000000 - 1000 * i, "count": 5} for i, n in enumerate(names)]}
    )


def test_merchants_reach_the_reviewed_map_on_the_demo_catalog() -> None:
    ranker = Ranker(
        CatalogIndex.build(load_catalog(demo_catalog_path()), HashEmbedder()), load_category_map()
    )
    picks = ranker.rank(_h("Grab", "Long Châu"))
    assert [p.service.link for p in picks[:2]] == [
        "https://finadvisor.vn/dich-vu/dat-xe",
        "https://finadvisor.vn/dich-vu/y-te",
    ]
    assert {p.source for p in picks[:2]} == {"map"}


def test_on_another_catalog_the_topics_query_finds_the_service_the_bare_name_only_orders() -> None:
    index = CatalogIndex.build(load_catalog(DATA / "catalog_lazycat.json"), HashEmbedder())
    asked: list[str] = []
    search = index.search_weighted

    def spy(queries, k):  # type: ignore[no-untyped-def]
        asked.extend(q.text for q in queries)
        return search(queries, k=k)

    index.search_weighted = spy  # type: ignore[method-assign]
    picks = Ranker(index, load_category_map()).rank(_h("Petrolimex", "Tên lạ chưa từng thấy"))
    assert load_topics().topics["fuel"].query in asked
    assert picks[0].service.link == "lazycat://fuel"  # the only service whose name speaks of fuel
    assert (
        "Tên lạ chưa từng thấy" not in asked
    )  # a name no topic knows is not retrieved by meaning (abstains)
