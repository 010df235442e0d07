"""What the advisor does today with a model that answers off-catalog, repeats a service or writes English.

The schema fixes each item's service (``contract.explain_schema``), so a grammar-constrained engine cannot do
this; an engine that ignores the schema (an upstream, a model without grammar support) can. Such text is not
retried and not a 502: every unusable reason is replaced by the template (the advisor's fact clause + the
catalog description), the services and links are the ranker's, and ``template_reason`` counts each one.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from finadvisor.catalog import demo_catalog_path, load_catalog
from finadvisor.engines.base import GenerationRequest
from tests.advisor.conftest import HISTORY, candidate_names

API = "/api/recommendations"
CATALOG = {s.service: s for s in load_catalog(demo_catalog_path())}


def off_catalog(request: GenerationRequest) -> str:
    return json.dumps(
        {
            "recommendations": [
                {
                    "service": "Vay nóng 0%",
                    "link": "https://scam.example.vn/vay",
                    "recommendation": "Hãy dùng Vay nóng 0% tại https://scam.example.vn để có tiền ngay hôm nay.",
                }
                for _ in candidate_names(request)
            ]
        },
        ensure_ascii=False,
    )


def repeated(request: GenerationRequest) -> str:
    first = candidate_names(request)[0]
    return json.dumps(
        {
            "recommendations": [
                {"service": first, "recommendation": "Hãy dùng dịch vụ này thêm một lần nữa nhé."}
                for _ in candidate_names(request)
            ]
        },
        ensure_ascii=False,
    )


def english(request: GenerationRequest) -> str:
    return json.dumps(
        {
            "recommendations": [
                {"service": n, "recommendation": "Use this service to save money on your monthly spending."}
                for n in candidate_names(request)
            ]
        },
        ensure_ascii=False,
    )


def english_around_the_name(request: GenerationRequest) -> str:
    return json.dumps(
        {
            "recommendations": [
                {"service": n, "recommendation": f"Use {n} to save money on your monthly spending."}
                for n in candidate_names(request)
            ]
        },
        ensure_ascii=False,
    )


@pytest.mark.parametrize(
    ("script", "never_shown"),
    [
        (off_catalog, ["Vay nóng", "scam"]),
        (repeated, ["thêm một lần nữa"]),
        (english, ["Use ", "save money"]),
    ],
    ids=["off-catalog", "repeated-service", "english"],
)
async def test_unusable_model_text_is_replaced_by_the_template(
    make_client, script: Callable[[GenerationRequest], str], never_shown: list[str]
) -> None:
    async for c in make_client(script):
        r = await c.post(API, json={"history": HISTORY}, headers={"Cache-Control": "no-cache"})
        assert r.status_code == 200, r.text  # not retried, not a 502
        request = c._transport.app.state.test_engine.calls[-1]  # type: ignore[attr-defined]
        assert len(c._transport.app.state.test_engine.calls) == 1  # type: ignore[attr-defined]  # no second call
        picks = candidate_names(request)
        recs = r.json()["recommendations"]
        assert [x["service"] for x in recs] == picks  # the ranker's services, each once
        assert [x["link"] for x in recs] == [CATALOG[p].link for p in picks]  # the catalog's links
        for needle in never_shown:
            assert needle not in r.text
        for (
            rec
        ) in recs:  # the template: the fact clause, then the benefit of the catalog's figure or its words
            assert rec["recommendation"].startswith("Tháng này bạn "), rec
            description_start = " ".join(CATALOG[rec["service"]].description.split()[:4])
            assert description_start in rec["recommendation"] or "khoảng" in rec["recommendation"], rec
        metrics = (await c.get("/metrics")).text
        n = float(len(recs))
        assert f'finadvisor:advisor_fallbacks_total{{kind="template_reason"}} {n}' in metrics
        assert (
            f'finadvisor:advisor_reasons_total{{writer="template"}} {n}' in metrics
        )  # who wrote what is shown
        assert 'finadvisor:advisor_reasons_total{writer="model"} 0.0' in metrics


async def test_english_around_a_vietnamese_service_name_is_replaced(make_client) -> None:
    async for c in make_client(english_around_the_name):
        r = await c.post(API, json={"history": HISTORY}, headers={"Cache-Control": "no-cache"})
        assert r.status_code == 200 and "save money" not in r.text
