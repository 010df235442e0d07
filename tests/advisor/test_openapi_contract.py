"""The advisor's published contract (issue 26): ``/openapi.json`` declares the response of both advisor routes,
with a description on every field and a real example, and what the routes answer validates against it.
The seed's three string fields are unchanged; ``evidence`` and ``currency`` are additions with defaults."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from finadvisor.advisor.contract import EXAMPLE, AdvisorResponse
from tests.advisor.conftest import HISTORY

API = "/api/recommendations"


def _validator(spec: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A validator for ``components.schemas[name]`` that resolves the document's own ``$ref``s."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def _described(spec: dict[str, Any], name: str) -> list[str]:
    """Fields of a component schema (and of the components it refers to) that have no description."""
    missing = []
    for field, prop in spec["components"]["schemas"][name]["properties"].items():
        if not prop.get("description"):
            missing.append(f"{name}.{field}")
        ref = prop.get("items", prop).get("$ref")
        if ref:
            missing += _described(spec, ref.rsplit("/", 1)[1])
    return missing


async def test_openapi_declares_the_advice_with_descriptions_and_a_real_example(make_client) -> None:
    async for c in make_client():
        spec = (await c.get("/openapi.json")).json()
        for method in ("get", "post"):
            ok = spec["paths"][API][method]["responses"]["200"]
            assert ok["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/AdvisorResponse"
            }
            assert ok["description"]
        assert _described(spec, "AdvisorResponse") == []
        schema = spec["components"]["schemas"]["AdvisorResponse"]
        assert schema["examples"] == [EXAMPLE]
        _validator(spec, "AdvisorResponse").validate(EXAMPLE)
        assert (
            EXAMPLE["recommendations"][0]["evidence"][0]["amount"] == 5_200_000
        )  # a number, not "5.200.000 đ"


async def test_the_answer_validates_against_the_published_schema_and_carries_numbers(make_client) -> None:
    async for c in make_client():
        spec = (await c.get("/openapi.json")).json()
        body = (await c.post(API, json={"history": HISTORY})).json()
        _validator(spec, "AdvisorResponse").validate(body)
        assert body["currency"] == "VND"
        spent = {
            "Hóa đơn điện": (1_350_000, 1),
            "Nạp tiền điện thoại": (200_000, 2),
            "Ăn uống": (3_450_000, 42),
        }
        total = sum(a for a, _ in spent.values())
        lines = [line for rec in body["recommendations"] for line in rec["evidence"]]
        assert lines, body  # at least one recommendation rests on a spending item
        for line in lines:
            amount, count = spent[line["item"]]
            assert (line["amount"], line["count"]) == (amount, count)
            assert line["share"] == pytest.approx(amount / total, abs=1e-4)
        for rec in body["recommendations"]:  # the seed's fields, unchanged
            assert all(isinstance(rec[k], str) and rec[k] for k in ("service", "link", "recommendation"))
        hit = await c.post(API, json={"history": HISTORY})
        assert hit.headers["x-cache"] == "hit" and hit.json() == body  # the cache keeps the new fields


def test_an_answer_without_the_new_fields_still_reads() -> None:
    """Backward compatible: an answer cached before issue 26 (or a client's old fixture) is still valid."""
    old = {
        "summarization": "Tháng này bạn chi 1.000.000 đ.",
        "recommendations": [
            {"service": "A", "link": "https://a", "recommendation": "Lý do một."},
            {"service": "B", "link": "https://b", "recommendation": "Lý do hai."},
        ],
    }
    parsed = AdvisorResponse.model_validate(old)
    assert parsed.currency == "VND" and all(r.evidence == [] for r in parsed.recommendations)
    assert {k: v for k, v in parsed.model_dump().items() if k != "currency"} == {
        "summarization": old["summarization"],
        "recommendations": [{**r, "evidence": []} for r in old["recommendations"]],
    }


async def test_an_evidence_item_never_carries_a_link(make_client) -> None:
    """The item is the spending API's free text: a name that smuggles a link loses it, as the sentences do."""
    history = {
        "spending": [
            {"name": "Mua sắm tại http://evil.example/x ngay", "amount": 900000, "count": 1},
            {"name": "Ăn uống", "amount": 100000, "count": 3},
        ]
    }
    async for c in make_client():
        r = await c.post(API, json={"history": history})
    assert r.status_code == 200, r.text
    items = [line["item"] for rec in r.json()["recommendations"] for line in rec["evidence"]]
    assert items and not any("evil" in item or "http" in item for item in items)
