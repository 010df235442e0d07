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


def expect(locator):  # type: ignore[no-untyped-def]
    """Playwright's auto-waiting assertions (imported late: playwright is optional). The page's CSP forbids
    eval, so waits are on locators, never on string predicates (``wait_for_function``)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "histories" / "hostile-names.json"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("web")
    settings = Settings(
        engine="fake", cache_dir=tmp, embedder="hash", index_dir=tmp / "index", rate_limit_per_min=1000
    )
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
def browser():  # type: ignore[no-untyped-def]
    chromium = require_binary("chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser):  # type: ignore[no-untyped-def]
    return browser.new_page(viewport={"width": 1200, "height": 900})


def test_demo_user_chart_and_recommendation_cards(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(base_url + "/")
    page.wait_for_selector(
        "#user option:nth-child(2)", state="attached"
    )  # no string predicates: the CSP forbids eval
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
    expect(page.locator("#status")).to_contain_text("bộ nhớ đệm")


def test_error_states_are_shown(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/")
    page.fill("#history", "{not json")
    page.click("#go")
    assert "không phải JSON hợp lệ" in page.inner_text("#error")
    page.fill("#history", '{"spending": [{"name": "Ăn uống", "amount": -5}]}')
    page.click("#go")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("amount")
    page.screenshot(path=str(ARTIFACTS / "web-error.png"), full_page=True)


def test_hostile_names_render_as_text(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base_url + "/")
    page.fill("#history", HOSTILE.read_text(encoding="utf-8"))  # pasted: the fixture is not a demo user
    page.wait_for_selector("#chart svg rect")
    page.click("#go")
    page.wait_for_selector(".card a", timeout=20_000)
    assert page.locator("script").count() == 1  # only the page's own script; nothing was injected
    assert "</script>" in page.inner_text("#chart")  # the hostile name is shown as plain text
    assert dialogs == []


DATA = Path(__file__).resolve().parents[2] / "finadvisor" / "data"


def test_server_errors_are_shown_in_vietnamese(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    """The server's error JSON is English (OpenAI shape); the Vietnamese page says it in Vietnamese and keeps
    the server's words as the tooltip only."""
    import json

    english = "the engine is not ready yet; retry in a few seconds"
    page.goto(base_url + "/")
    page.route(
        "**/api/recommendations",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps(
                {"error": {"message": english, "type": "overloaded_error", "param": None, "code": None}}
            ),
        ),
    )
    page.fill("#history", '{"spending": [{"name": "Ăn uống", "amount": 100000, "count": 2}]}')
    page.click("#go")
    page.wait_for_selector("#error:not([hidden])")  # a selector, not a JS string: the page's CSP forbids eval
    shown = page.inner_text("#error")
    assert "Máy chủ đang bận" in shown and english not in shown
    assert page.get_attribute("#error", "title") == english
    page.unroute("**/api/recommendations")


def test_the_demo_user_list_offers_no_attack_fixture() -> None:
    """Demo users are fictional people: no instruction, link or markup in a category name (the prompt-injection
    fixture lives in tests/fixtures/histories/ and is pasted by the test that needs it)."""
    import json
    import re

    hostile = re.compile(r"(?i)://|<|>|hướng dẫn|ignore|bỏ qua")
    for user in _demo_users():
        history = json.loads((DATA / "histories" / f"{user}.json").read_text(encoding="utf-8"))
        names = [c["name"] for key in ("spending", "earning") for c in history.get(key, [])]
        assert not [n for n in names if hostile.search(n)], user
    assert any(hostile.search(c["name"]) for c in json.loads(HOSTILE.read_text(encoding="utf-8"))["spending"])


def _demo_users() -> list[str]:
    return sorted(p.stem for p in (DATA / "histories").glob("*.json"))


@pytest.fixture(scope="module")
def phone(browser):  # type: ignore[no-untyped-def]
    return browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)


def test_every_demo_users_cards_pass_the_faithfulness_check_on_a_phone(phone, base_url: str) -> None:  # type: ignore[no-untyped-def]
    import json

    from finadvisor.advisor.category_map import load_category_map
    from finadvisor.advisor.evidence import Facts
    from finadvisor.advisor.faithfulness import Checker
    from finadvisor.advisor.ranker import Ranker
    from finadvisor.catalog import CatalogIndex, HashEmbedder
    from finadvisor.history import SpendingHistory

    ranker = Ranker(
        CatalogIndex.build(load_catalog(demo_catalog_path()), HashEmbedder()), load_category_map()
    )
    ARTIFACTS.mkdir(exist_ok=True)
    phone.goto(base_url + "/")
    phone.wait_for_selector("#user option:nth-child(2)", state="attached")
    users = _demo_users()
    assert len(users) >= 5
    for user in users:
        phone.select_option("#user", user)
        phone.wait_for_selector("#chart svg rect")
        # chart labels readable on a 390-px screen: at least 12 CSS px tall, inside the screen
        sizes = phone.eval_on_selector_all(
            ".bar-label", "els => els.map(e => e.getBoundingClientRect().height)"
        )
        right = phone.eval_on_selector_all(
            "#chart svg", "els => els.map(e => e.getBoundingClientRect().right)"
        )
        assert sizes and min(sizes) >= 12, (user, sizes)
        assert max(right) <= 390, (user, right)
        phone.evaluate("document.getElementById('cards').replaceChildren()")
        phone.click("#go")
        phone.wait_for_selector(".card a", timeout=20_000)
        history = SpendingHistory.model_validate(
            json.loads((DATA / "histories" / f"{user}.json").read_text())
        )
        picks = {p.service.service: p for p in ranker.rank(history)}
        checker = Checker(Facts.of(history), list(picks.values()))
        cards = phone.locator(".card").all()
        assert 2 <= len(cards) <= 3
        for card in cards:
            service, reason = card.locator("h3").inner_text(), card.locator("p").inner_text()
            verdict = checker.check_reason(reason, picks[service])
            assert verdict.raw_problems == [] and not verdict.template, (user, service, reason, verdict)
        summary = phone.inner_text("#summary")
        assert [p for s in checker.split(summary) for p in checker.sentence_problems(s)] == [], (
            user,
            summary,
        )
        phone.screenshot(path=str(ARTIFACTS / f"web-phone-{user}.png"), full_page=True)
