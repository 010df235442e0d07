"""Catalog validation: every bad input names the entry and the field."""

from __future__ import annotations

import json

import pytest

from finadvisor.catalog import Service, demo_catalog_path, load_catalog, parse_catalog
from finadvisor.errors import ValidationFailed

GOOD = {
    "service": "Nạp tiền",
    "link": "https://finadvisor.vn/dich-vu/nap-tien",
    "description": "Nạp tiền điện thoại",
}


def test_demo_catalog_is_valid_and_large_enough(demo_services):
    assert len(demo_services) >= 30
    assert all(
        s.link.startswith(("https://finadvisor.vn/dich-vu/", "finadvisor://service/")) for s in demo_services
    )
    assert len({s.id for s in demo_services}) == len(demo_services)


def test_id_is_derived_stably_from_link_and_extras_kept():
    a = parse_catalog([{**GOOD, "category": "vien-thong"}])[0]
    b = parse_catalog([GOOD])[0]
    assert a.id == b.id and a.id.startswith("nap-tien-")
    assert a.metadata == {"category": "vien-thong"}
    assert parse_catalog([{**GOOD, "id": "telco"}])[0].id == "telco"


def test_text_is_nfc_normalised():
    decomposed = "Na\u0323p tie\u0302\u0300n"  # "Nạp tiền" with combining marks
    svc = parse_catalog([{**GOOD, "service": decomposed}])[0]
    assert svc.service == "Nạp tiền"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"link": GOOD["link"], "description": "x"}, "catalog entry 1: field 'service' is missing"),
        ({**GOOD, "description": "   "}, "catalog entry 1 ('Nạp tiền'): field 'description' is empty"),
        (
            {**GOOD, "link": "javascript:alert(1)"},
            "field 'link' 'javascript:alert(1)' scheme 'javascript' can run script",
        ),
        ({**GOOD, "link": "finadvisor.vn/x"}, "field 'link' 'finadvisor.vn/x' has no scheme"),
        ({**GOOD, "service": 42}, "catalog entry 1: field 'service' must be a string, got int"),
        ("just a string", "catalog entry 1: must be a JSON object"),
    ],
)
def test_bad_entries_name_entry_and_field(entry, expected):
    other = {**GOOD, "link": "https://finadvisor.vn/dich-vu/khac", "service": "Khác"}
    with pytest.raises(ValidationFailed) as err:
        parse_catalog([other, entry])
    assert expected in err.value.message


def test_duplicate_link_names_both_entries():
    with pytest.raises(
        ValidationFailed, match=r"catalog entry 1 \('Nạp tiền'\): field 'link' .* duplicates catalog entry 0"
    ):
        parse_catalog([GOOD, dict(GOOD)])


def test_allowed_schemes_come_from_config():
    entry = {**GOOD, "link": "zalopay://telco"}
    assert parse_catalog([entry])[0].link == "zalopay://telco"
    with pytest.raises(
        ValidationFailed,
        match=r"not allowed by the setting link_schemes \(FINADVISOR_LINK_SCHEMES\) "
        r"\(allowed: https\)",
    ):
        parse_catalog([entry], allowed_schemes=["https"])


def test_any_app_scheme_is_accepted_by_default():
    links = ["lazycat://bill", "myapp://wallet/topup?x=1", "https://finadvisor.vn/a"]
    services = parse_catalog([{**GOOD, "link": link, "service": f"S{i}"} for i, link in enumerate(links)])
    assert [s.link for s in services] == links


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JavaScript://x",
        "vbscript:msgbox(1)",
        "data:text/html,<script>1</script>",
        "file:///etc/passwd",
    ],
)
@pytest.mark.parametrize("allowed", [("*",), ("javascript", "vbscript", "data", "file", "https")])
def test_script_and_file_schemes_are_always_refused(link, allowed):
    with pytest.raises(
        ValidationFailed, match=r"always refused \(the setting link_schemes \(FINADVISOR_LINK_SCHEMES\)"
    ):
        parse_catalog([{**GOOD, "link": link}], allowed_schemes=allowed)


def test_malformed_json_reports_line_and_column(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('[\n {"service": "a",\n  "link": }\n]', encoding="utf-8")
    with pytest.raises(ValidationFailed, match=r"c.json: malformed JSON at line 3 column 11"):
        load_catalog(path)


def test_missing_file_and_file_prefix(tmp_path):
    with pytest.raises(ValidationFailed, match="does not exist"):
        load_catalog(tmp_path / "nope.json")
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps([GOOD, {**GOOD, "link": "https://finadvisor.vn/dich-vu/b", "description": ""}])
    )
    with pytest.raises(
        ValidationFailed, match=r"c.json: catalog entry 1 \('Nạp tiền'\): field 'description' is empty"
    ):
        load_catalog(path)


def test_single_entry_object_is_accepted():
    assert [s.link for s in parse_catalog(GOOD)] == [GOOD["link"]]
    assert isinstance(parse_catalog({"services": [GOOD]})[0], Service)


def test_demo_path_points_at_packaged_file():
    assert demo_catalog_path().name == "catalog_demo.json" and demo_catalog_path().is_file()
