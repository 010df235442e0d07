"""No cross-user leaks under concurrency, bounded queues, secrets kept out of logs."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import httpx
import pytest

from finadvisor.advisor.mock_api import create_mock_app
from finadvisor.advisor.providers import HttpHistoryProvider, demo_histories_dir
from finadvisor.advisor.wording import vnd
from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.history import SpendingHistory
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script
from tests.helpers import started_client


def echoing_script(request) -> str:  # type: ignore[no-untyped-def]
    """An advisor 'model' whose first reason quotes the category its prompt's data names first."""
    prompt = request.messages[-1]["content"]
    name = re.search(r'khoản chi "([^"]+)"', prompt)
    assert name is not None, prompt
    reply = json.loads(good_script(request))
    reply["recommendations"][0]["recommendation"] = f"Dịch vụ này hợp với khoản {name.group(1)} của bạn."
    return json.dumps(reply, ensure_ascii=False)


async def test_concurrent_users_only_ever_see_their_own_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        engine="fake",
        cache_dir=tmp_path,
        embedder="hash",
        index_dir=tmp_path / "idx",
        rate_limit_per_min=10_000,
    )
    app = create_app(settings, engine=FakeEngine(script=echoing_script, ttft_s=0.02))
    users = sorted(p.stem for p in demo_histories_dir().glob("*.json"))
    expected, names = {}, {}
    for user in users:
        history = SpendingHistory.model_validate_json((demo_histories_dir() / f"{user}.json").read_text())
        expected[user] = vnd(sum(c.amount for c in history.spending))
        names[user] = {c.name for c in history.spending}
    async for client in started_client(app):
        app.state.history_provider = HttpHistoryProvider(
            "http://mock/v1/pfm/summary/category?filter_month={month}",
            transport=httpx.ASGITransport(app=create_mock_app()),
        )

        async def ask(user: str) -> tuple[str, httpx.Response]:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://t",
                cookies={"zlp_token": f"demo-{user}"},
            ) as c:
                return user, await c.get("/api/recommendations")

        results = await asyncio.gather(*[ask(u) for u in users * 5])
        for user, response in results:
            assert response.status_code == 200, response.text
            body = response.json()  # the summary is computed from the history fetched with this user's token
            assert body["summarization"].startswith(f"Tháng này bạn chi {expected[user]}"), (user, body)
            echoed = re.search(r"khoản (.+) của bạn\.$", body["recommendations"][0]["recommendation"])
            assert echoed is not None and echoed.group(1) in names[user], (
                user,
                body,
            )  # the model saw this user's data
        assert client is not None


async def test_bounded_queue_answers_503_with_retry_after(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(engine="fake", cache_dir=tmp_path, n_parallel=1, max_waiting=2)
    app = create_app(settings, engine=FakeEngine(ttft_s=0.5))
    async for c in started_client(app):
        body = {"messages": [{"role": "user", "content": "xin chào"}], "max_tokens": 4}
        responses = await asyncio.gather(*[c.post("/v1/chat/completions", json=body) for _ in range(6)])
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 200, 200, 503, 503, 503]
        refused = [r for r in responses if r.status_code == 503]
        assert all(
            r.headers["retry-after"] and r.json()["error"]["type"] == "overloaded_error" for r in refused
        )
        assert (await c.post("/v1/chat/completions", json=body)).status_code == 200  # healthy afterwards


async def test_engine_stall_hits_the_time_budget(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(engine="fake", cache_dir=tmp_path, request_timeout_s=0.3)
    app = create_app(settings, engine=FakeEngine(ttft_s=5))
    async for c in started_client(app):
        r = await c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 504 and "time budget" in r.json()["error"]["message"]


async def test_api_key_and_tokens_never_reach_logs(tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.logs import RedactingFilter

    key = "sk-live-ABCDEF0123456789"
    settings = Settings(
        engine="fake", cache_dir=tmp_path, api_key=key, embedder="hash", index_dir=tmp_path / "i"
    )
    app = create_app(settings, engine=FakeEngine(ttft_s=5))
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RedactingFilter())  # as configure_logging() installs it on the real handler
    async for c in started_client(app):
        await c.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}]},
            headers={"Authorization": f"Bearer {key}x"},
        )
        c.cookies.set("zlp_token", "usertoken-SECRET-42")
        r = await c.get("/api/recommendations")  # no spending source configured: a clear error
        assert r.status_code == 503 and "FINADVISOR_SPENDING_API_URL" in r.json()["error"]["message"]
        # a third-party message that echoes a header is redacted by the filter
        logging.getLogger("httpx").warning("request failed: Authorization: Bearer %s", key)
        metrics = (await c.get("/metrics")).text
    text = caplog.text + metrics
    assert key not in text and "usertoken-SECRET-42" not in text
    assert re.search(r"Bearer \[REDACTED\]", caplog.text)
