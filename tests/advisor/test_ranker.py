"""The ranker: reviewed map for known names, retrieval for unseen ones, surplus and debt signals, evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from finadvisor.advisor.category_map import CategoryMap, fold, load_category_map
from finadvisor.advisor.ranker import Ranker
from finadvisor.catalog import CatalogIndex, HashEmbedder, demo_catalog_path, load_catalog
from finadvisor.catalog.index import load_vocabulary
from finadvisor.errors import ConfigError
from finadvisor.history import SpendingHistory

DATA = Path(__file__).resolve().parents[2] / "finadvisor" / "data"
D = "https://finadvisor.vn/dich-vu/"
SAVINGS = {D + "so-du-sinh-loi", D + "tiet-kiem-ky-han", D + "chung-chi-quy"}


@pytest.fixture(scope="module")
def ranker() -> Ranker:
    return Ranker(CatalogIndex.build(load_catalog(demo_catalog_path()), HashEmbedder()), load_category_map())


def _h(spending: list[tuple[str, int, int]], earned: int = 0) -> SpendingHistory:
    return SpendingHistory.model_validate({
        "earning": [{"name": "Lương", "amount": earned, "count": 1}] if earned else [],
        "spending": [{"name": n, "amount": a, "count": c} for n, a, c in spending]})


def test_known_names_decide_from_the_map(ranker: Ranker) -> None:
    picks = ranker.rank(_h([("Ăn uống", 3450000, 42), ("Hóa đơn điện", 820000, 1), ("ĂN UỐNG", 10000, 1)]))
    assert [p.service.link for p in picks[:2]] == [D + "uu-dai-an-uong", D + "hoa-don-dien"]
    assert all(p.source == "map" for p in picks[:2])
    food = picks[0].categories()[0]
    assert food.name == "Ăn uống" and food.amount == 3460000 and food.count == 43  # merged case-insensitively


def test_high_earner_who_spends_little_gets_savings(ranker: Ranker) -> None:
    picks = ranker.rank(_h([("Ăn uống", 2000000, 20)], earned=60000000))
    saving = [p for p in picks if p.service.link in SAVINGS]
    assert saving and saving[0].source == "surplus" and saving[0].evidence[0].kind == "surplus"
    lean = ranker.rank(_h([("Ăn uống", 9000000, 20)], earned=10000000))
    assert not any(p.source == "surplus" for p in lean)


def test_card_debt_points_to_budgeting(ranker: Ranker) -> None:
    picks = ranker.rank(_h([("Credit card repayment", 6000000, 1), ("Late fee", 300000, 1),
                            ("Mua sắm", 4500000, 12)]))
    links = [p.service.link for p in picks]
    assert D + "quan-ly-chi-tieu" in links
    budget = picks[links.index(D + "quan-ly-chi-tieu")]
    assert "debt" in {e.kind for e in budget.evidence}


def test_unseen_names_go_to_retrieval_and_every_pick_has_evidence(ranker: Ranker) -> None:
    picks = ranker.rank(_h([("Tên lạ chưa từng thấy", 500000, 2), ("Hóa đơn nước", 200000, 1)]))
    assert 2 <= len(picks) <= 3
    assert "retrieval" in {p.source for p in picks}
    assert all(p.evidence for p in picks)


def test_a_one_category_history_still_gets_two_services(ranker: Ranker) -> None:
    picks = ranker.rank(_h([("Thuốc", 450000, 3)]))
    assert len(picks) >= 2 and picks[0].service.link == D + "y-te"


def test_another_catalog_ignores_the_maps_links() -> None:
    services = load_catalog(DATA / "catalog_lazycat.json")
    ranker = Ranker(CatalogIndex.build(services, HashEmbedder()), load_category_map())
    picks = ranker.rank(_h([("Ăn uống", 3000000, 30), ("Tiền điện", 900000, 1)], earned=40000000))
    assert all(p.service.link.startswith("lazycat://") for p in picks)
    assert {p.source for p in picks} <= {"retrieval", "surplus", "fallback"}


def test_the_map_covers_the_vocabulary_with_real_links() -> None:
    cmap = load_category_map()
    links = {s.link for s in load_catalog(demo_catalog_path())}
    left_to_retrieval = {"Gas", "Sửa chữa nhà", "Thể thao", "Phòng tập", "Thú cưng"}  # no fitting service
    for name in load_vocabulary():
        mapped = cmap.links(name)
        assert bool(mapped) != (name in left_to_retrieval), name
        assert set(mapped) <= links, name
    for signal in ("@surplus", "@debt", "@fallback"):
        assert cmap.links(signal) and set(cmap.links(signal)) <= links


def test_names_match_with_or_without_diacritics_and_case() -> None:
    cmap = CategoryMap([("Ăn uống", "a://1"), ("FOOD_AND_BEVERAGE", "a://2")])
    assert cmap.links("ĂN UỐNG") == cmap.links("an uong") == ["a://1"]
    assert cmap.links("Food and beverage") == ["a://2"] and cmap.links("Đi chợ") == []
    assert fold("Đồ ăn") == "do an"


def test_a_bad_map_file_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "map.csv"
    bad.write_text("name,link\nĂn uống,x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="map.csv: the first row must be the header"):
        load_category_map(bad)
    bad.write_text("# c\ncategory,service,link\nĂn uống,Ưu đãi\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="map.csv, line 3"):
        load_category_map(bad)


def test_debt_is_read_before_the_product_and_a_dress_is_not_a_loan(ranker: Ranker) -> None:
    from finadvisor.advisor.ranker import is_debt

    assert not is_debt("Váy áo") and is_debt("Vay tiêu dùng") and is_debt("Trả góp điện thoại Home Credit")
    assert not is_debt("Phí thường niên thẻ tín dụng") and is_debt("Trả nợ thẻ tín dụng")  # a fee, not a debt
    picks = ranker.rank(_h([("Trả góp điện thoại Home Credit", 1850000, 1), ("Ăn uống", 900000, 10)]))
    links = [p.service.link for p in picks]
    assert "finadvisor://service/tra-no-vay" in links and D + "nap-tien-dien-thoai" not in links


def test_a_user_spending_more_than_they_earn_gets_no_third_service_unless_it_is_for_debt(ranker: Ranker) -> None:
    spending = [("Ăn uống", 3000000, 30), ("Mua sắm online", 2800000, 8), ("Hóa đơn điện", 1500000, 1)]
    assert len(ranker.rank(_h(spending, earned=30000000))) == 3  # the third service is shown to a saver ...
    assert len(ranker.rank(_h(spending, earned=6000000))) == 2  # ... not to someone 1.300.000 đ over budget
    debt = ranker.rank(_h([("Trả góp", 2000000, 1)] + spending[:2], earned=6000000))
    assert len(debt) == 3 and "debt" in {e.kind for e in debt[2].evidence}  # budgeting may still come third
