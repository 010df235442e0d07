"""The web page in a real headless Chromium (Debian's chromium driven by Playwright), on the fake engine.

Screenshots are kept under test-artifacts/ for humans to look at.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from finadvisor.app import create_app
from finadvisor.catalog import demo_catalog_path, load_catalog
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script
from tests.helpers import free_port, require_binary, wait_healthy

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("web")
    settings = Settings(engine="fake", cache_dir=tmp, embedder="hash", index_dir=tmp / "index",
                        rate_limit_per_min=1000)
    app = create_app(settings, engine=FakeEngine(script=good_script, ttft_s=0.2))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, None, timeout_s=30)
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(base_url: str):  # type: ignore[no-untyped-def]
    chromium = require_binary("chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1200, "height": 900})
        yield pg
        browser.close()


def test_demo_user_chart_and_recommendation_cards(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(base_url + "/")
    page.wait_for_function("document.querySelectorAll('#user option').length > 1")
    page.select_option("#user", "chi-noi-tro")
    page.wait_for_selector("#chart svg rect")
    assert page.locator("#chart svg rect").count() == 6  # one bar per spending category
    page.click("#go")
    page.wait_for_selector(".card a", timeout=20_000)
    links = {s.link for s in load_catalog(demo_catalog_path())}
    hrefs = [a.get_attribute("href") for a in page.locator(".card a").all()]
    assert 2 <= len(hrefs) <= 3 and set(hrefs) <= links
    assert "Tháng này" in page.inner_text("#summary")
    page.screenshot(path=str(ARTIFACTS / "web-recommendations.png"), full_page=True)
    page.click("#go")  # the second time comes from the cache
    page.wait_for_function("document.getElementById('status').textContent.includes('bộ nhớ đệm')")


def test_error_states_are_shown(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/")
    page.fill("#history", "{not json")
    page.click("#go")
    assert "không phải JSON hợp lệ" in page.inner_text("#error")
    page.fill("#history", '{"spending": [{"name": "Ăn uống", "amount": -5}]}')
    page.click("#go")
    page.wait_for_function("!document.getElementById('error').hidden && "
                           "document.getElementById('error').textContent.includes('amount')")
    page.screenshot(path=str(ARTIFACTS / "web-error.png"), full_page=True)


def test_hostile_names_render_as_text(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base_url + "/")
    page.wait_for_function("document.querySelectorAll('#user option').length > 1")
    page.select_option("#user", "giang-ke-tan-cong")
    page.wait_for_selector("#chart svg rect")
    page.click("#go")
    page.wait_for_selector(".card a", timeout=20_000)
    assert page.locator("script").count() == 1  # only the page's own script; nothing was injected
    assert "</script>" in page.inner_text("#chart")  # the hostile name is shown as plain text
    assert dialogs == []
