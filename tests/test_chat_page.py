"""The chat page at `/`, in a real browser (Debian's Chromium driven by Playwright) against a
live server on the real models and index, with an API key required for writes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "api" / "static"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
API_KEY = "test-key-123"
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 375, "height": 740}

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason=f"Debian's Chromium is not installed at {CHROMIUM}")

STORM = ("Storm hits northern coast",
         "A powerful storm struck the northern coast on Thursday.\n\nEmergency services said the "
         "town of Harwick was the worst affected, with more than 200 houses flooded. The regional "
         "governor, Maria Lopez, opened shelters in three schools.\n")
HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">Brindle council <script>window.__pwned=2' \
                '</script> backs bridge'
HOSTILE_TEXT = ('The council of Brindle voted to build a new bridge over the river. '
                '<script>window.__pwned=3</script> The mayor of Brindle, Ada Quist, said work '
                'would start in May. <img src=x onerror="window.__pwned=4"> Residents welcomed '
                'the plan.\n\n<b onmouseover="window.__pwned=5">Bold claims</b> were made too.')


# ------------------------------------------------------------------------- the server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sample_path: Path) -> Iterator[str]:
    """uvicorn in a subprocess on a free port, a fresh data dir, the sample article indexed."""
    data_dir = tmp_path_factory.mktemp("page-data")
    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_API_KEY": API_KEY,
           "QA_TORCH_THREADS": os.environ.get("QA_TORCH_THREADS", "1"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("QA_ASK_REQUIRES_KEY", None)
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {(data_dir / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not become healthy in 180 s")
            time.sleep(0.5)
        with sample_path.open("rb") as f:
            r = httpx.post(f"{base}/v1/documents", timeout=120,
                           headers={"Authorization": f"Bearer {API_KEY}"},
                           files={"file": (sample_path.name, f, "text/plain")})
        assert r.status_code == 201, r.text
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Page:
    """A browser page on the app, with its script errors and console messages collected."""

    def __init__(self, browser: Any, base: str, viewport: dict[str, int]):
        self.context = browser.new_context(viewport=viewport, service_workers="block")
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        # Only this server may be reached: any other request fails the test.
        self.foreign: list[str] = []

        def only_local(route: Any) -> None:
            if route.request.url.startswith(base) or route.request.url.startswith("data:"):
                route.continue_()
            else:
                self.foreign.append(route.request.url)
                route.abort()

        self.page.route("**/*", only_local)
        self.page.goto(base + "/")
        self.page.wait_for_selector("#doc-list li")

    def ask(self, question: str) -> Any:
        """Type a question, press Enter, wait for its answer card; returns the card."""
        turns = self.page.locator("#thread > li").count()
        self.page.locator("#question").fill(question)
        self.page.locator("#question").press("Enter")
        turn = self.page.locator("#thread > li").nth(turns)
        card = turn.locator(".answer-card, .error-card")
        card.wait_for()
        assert turn.locator(".error-card").count() == 0, turn.inner_text()
        return card

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def app_page(browser: Any, server: str) -> Iterator[Page]:
    page = Page(browser, server, WIDE)
    yield page
    assert not page.errors, page.errors
    assert not page.foreign, page.foreign
    page.close()


@pytest.fixture
def narrow_page(browser: Any, server: str) -> Iterator[Page]:
    page = Page(browser, server, NARROW)
    yield page
    assert not page.errors, page.errors
    page.close()


def in_viewport(page: Any, selector: str) -> bool:
    return bool(page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
           return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0
             && r.right <= innerWidth; }""",
        selector))


def answer_key(page: Page) -> None:
    """Type the API key into the page's key prompt."""
    dialog = page.page.locator("#key-dialog")
    dialog.wait_for(state="visible")
    page.page.locator("#key-input").fill(API_KEY)
    page.page.locator("#key-input").press("Enter")
    dialog.wait_for(state="hidden")


# ---------------------------------------------------------------- serving (no browser)

def test_page_and_assets_are_served_with_a_strict_policy(server: str) -> None:
    r = httpx.get(server + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = httpx.get(f"{server}/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
    for bad in ("/static/index.html.bak", "/static/..%2Fapp.py", "/static/%2e%2e/routers/pages.py",
                "/static/nope.js"):
        assert httpx.get(server + bad).status_code == 404, bad
    assert "/" not in httpx.get(server + "/openapi.json").json()["paths"]


def test_page_loads_nothing_from_elsewhere_and_never_parses_data_as_html() -> None:
    html = (STATIC / "index.html").read_text()
    js = (STATIC / "app.js").read_text()
    css = (STATIC / "app.css").read_text()
    for text in (html, js, css):
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)
        assert "@import" not in text and "url(http" not in text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function"):
        assert sink not in js, sink
    assert "<script>" not in html  # no inline script (the policy would block it anyway)


# ------------------------------------------------------------------------ the browser

@needs_chromium
@pytest.mark.browser
def test_answer_cites_its_source_and_the_citation_opens_highlighted(app_page: Page) -> None:
    page = app_page.page
    card = app_page.ask("where did they meet?")
    assert "Turkey" in card.locator(".answer-text").inner_text()
    assert re.search(r"\d+%", card.locator(".confidence").inner_text())
    citation = card.locator("[data-citation]").first
    assert citation.get_attribute("data-citation") == "1"
    assert "Turkey" in citation.inner_text()
    assert card.locator("details.timings summary").inner_text().startswith("Answered in")

    citation.click()
    mark = page.locator("#article-body mark")
    mark.wait_for()
    assert "Turkey" in mark.inner_text()
    assert mark.locator("strong").inner_text() == "Turkey"  # the answer span, emphasised
    assert page.locator("#article-title").inner_text().startswith("Report: Hamas leader met")
    page.wait_for_timeout(800)  # smooth scrolling
    assert in_viewport(page, "#article-body mark")
    assert citation.get_attribute("aria-current") == "true"
    # The highlight is exactly the quoted evidence, cut from the article at its offsets.
    assert mark.text_content() == citation.locator(".quote").text_content()


def streamed_answer(response: Any) -> dict[str, Any]:
    """The `answer` event of a finished /v1/ask/stream response."""
    for block in response.text().split("\n\n"):
        if block.startswith("event: answer\n"):
            return dict(json.loads(block.split("data: ", 1)[1]))
    raise AssertionError(f"no answer event in {response.text()[:500]!r}")


@needs_chromium
@pytest.mark.browser
def test_follow_up_continues_the_conversation_and_new_chat_starts_over(app_page: Page) -> None:
    page = app_page.page
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(r.post_data_json)
            if r.url.endswith("/v1/ask/stream") else None)
    is_stream = "**/v1/ask/stream"

    with page.expect_response(is_stream) as first:
        app_page.ask("Who did Mashaal meet?")
    conversation_id = streamed_answer(first.value)["conversation_id"]
    assert conversation_id
    second = app_page.ask("Where?")
    assert page.locator("#thread > li").count() == 2
    assert page.locator("#thread .answer-card").count() == 2
    assert "Turkey" in second.locator(".answer-text").inner_text()
    assert [s["question"] for s in sent] == ["Who did Mashaal meet?", "Where?"]
    assert sent[0]["conversation_id"] is None
    # The follow-up names the conversation the server put the first answer in.
    assert sent[1]["conversation_id"] == conversation_id
    # What was searched is shown when the follow-up was rewritten.
    searched = second.locator(".searched")
    if searched.count():
        assert "Understood as" in searched.inner_text()

    page.locator("#new-chat").click()
    assert page.locator("#thread > li").count() == 0
    assert page.evaluate("document.activeElement.id") == "question"
    app_page.ask("where did they meet?")
    assert sent[-1]["conversation_id"] is None


@needs_chromium
@pytest.mark.browser
def test_expired_conversation_is_explained_and_retry_starts_a_new_one(app_page: Page,
                                                                      server: str) -> None:
    page = app_page.page
    with page.expect_response("**/v1/ask/stream") as first:
        app_page.ask("where did they meet?")
    conversation_id = streamed_answer(first.value)["conversation_id"]
    assert httpx.delete(f"{server}/v1/conversations/{conversation_id}").status_code == 204

    page.locator("#question").fill("Which newspaper reported it?")
    page.locator("#question").press("Enter")
    error = page.locator("#thread > li").nth(1).locator(".error-card")
    error.wait_for()
    assert "expired" in error.inner_text()
    with page.expect_request("**/v1/ask/stream") as retried:
        error.get_by_role("button", name="Retry").click()
    assert retried.value.post_data_json["conversation_id"] is None
    page.locator("#thread > li").nth(1).locator(".answer-card").wait_for()


@needs_chromium
@pytest.mark.browser
def test_not_in_the_articles_is_distinct_and_lists_nearest_passages(app_page: Page) -> None:
    card = app_page.ask("What is the price of bitcoin today?")
    assert "abstain" in (card.get_attribute("class") or "")
    assert "Not in the articles" in (card.text_content() or "")
    assert card.locator(".answer-text").count() == 0
    assert card.locator(".confidence").count() == 0  # no "Best match 13%" bar on an abstention
    assert card.locator("[data-citation]").count() >= 1
    quotes = [q.text_content() for q in card.locator(".quote").all()]
    assert len(quotes) == len(set(quotes))  # no source listed twice
    card.locator("[data-citation]").first.click()
    app_page.page.locator("#article-body mark").wait_for()


@needs_chromium
@pytest.mark.browser
def test_a_new_answer_does_not_keep_the_old_source_open(app_page: Page) -> None:
    page = app_page.page
    card = app_page.ask("where did they meet?")
    card.locator("[data-citation]").first.click()
    page.locator("#article-body mark").wait_for()
    assert page.locator("#article-view").is_visible()
    app_page.ask("Who leads Hamas?")
    assert page.locator("#article-view").is_hidden() and page.locator("#library").is_visible()


@needs_chromium
@pytest.mark.browser
def test_confidence_bands_follow_the_server_threshold(app_page: Page, server: str) -> None:
    page = app_page.page
    health = httpx.get(f"{server}/healthz").json()

    def with_threshold(route: Any) -> None:  # as a server run with QA_ABSTAIN_THRESHOLD=0.40
        route.fulfill(json={**health, "abstain_threshold": 0.40})

    page.route("**/healthz", with_threshold)
    page.reload()
    page.wait_for_selector("#doc-list li")
    meter = app_page.ask("where did they meet?").locator(".confidence")
    confidence = int(meter.locator(".confidence-value").inner_text().rstrip("%"))
    assert "Answers below 40% are not given" in (meter.get_attribute("title") or "")
    expected = "low" if confidence < 50 else "high" if confidence >= 70 else "medium"
    assert expected in (meter.get_attribute("class") or ""), (confidence, meter.get_attribute("class"))


@needs_chromium
@pytest.mark.browser
def test_upload_a_file_then_ask_about_it(app_page: Page, tmp_path: Path) -> None:
    page = app_page.page
    article = tmp_path / "storm.txt"
    article.write_text(f"{STORM[0]}\n\n{STORM[1]}", encoding="utf-8")
    page.locator("#upload-file").set_input_files(str(article))
    page.locator("#upload-form button[type=submit]").click()
    answer_key(app_page)  # writes need the key: the page asks once, keeps it for the tab
    page.locator("#library-status").filter(has_text="Added “Storm hits northern coast”").wait_for()
    assert page.locator("#doc-list li").filter(has_text="Storm hits northern coast").count() == 1
    assert page.evaluate("sessionStorage.getItem('pressroom.apiKey')") == API_KEY
    assert page.evaluate("localStorage.length") == 0

    card = app_page.ask("Which town was worst affected by the storm?")
    assert "Harwick" in card.locator(".answer-text").inner_text()
    card.locator("[data-citation]").first.click()
    mark = page.locator("#article-body mark")
    mark.wait_for()
    assert "Harwick" in mark.inner_text()
    assert page.locator("#article-title").inner_text() == "Storm hits northern coast"

    # Delete it again from the library: the kept key is used without asking.
    page.locator("#library-button").click()
    page.once("dialog", lambda d: d.accept())
    item = page.locator("#doc-list li").filter(has_text="Storm hits northern coast")
    item.get_by_role("button", name="Delete").click()
    item.wait_for(state="detached")
    assert page.locator("#key-dialog").is_visible() is False
    status = page.locator("#library-status")
    status.filter(has_text="Deleted “Storm hits northern coast”").wait_for()


@needs_chromium
@pytest.mark.browser
def test_markup_in_articles_is_shown_as_text_and_never_runs(app_page: Page) -> None:
    page = app_page.page
    page.locator("#paste-title").fill(HOSTILE_TITLE)
    page.locator("#paste-text").fill(HOSTILE_TEXT)
    page.locator("#paste-form button[type=submit]").click()
    # A wrong key is refused and asked for again; the right one goes through.
    page.locator("#key-dialog").wait_for(state="visible")
    page.locator("#key-input").fill("wrong-key")
    page.locator("#key-input").press("Enter")
    page.locator("#key-error").filter(has_text="not accepted").wait_for()
    answer_key(app_page)
    page.locator("#doc-list li").filter(has_text="Brindle council").wait_for()

    card = app_page.ask("Who is the mayor of Brindle?")
    assert "Ada Quist" in card.locator(".answer-text").inner_text()
    assert card.locator(".citation-title").first.inner_text() == HOSTILE_TITLE
    card.locator("[data-citation]").first.click()
    page.locator("#article-body mark").wait_for()
    page.wait_for_timeout(300)

    body = page.locator("#article-body").inner_text()
    assert "<script>window.__pwned=3</script>" in body
    assert '<img src=x onerror="window.__pwned=4">' in body
    assert page.locator("#article-title").inner_text() == HOSTILE_TITLE
    assert page.locator("#doc-list").inner_text().count("<script>") >= 1
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.scripts.length") == 1  # only app.js
    assert page.locator("main img, main b, main script").count() == 0
    assert not [m for m in app_page.console if "Content Security Policy" in m]


@needs_chromium
@pytest.mark.browser
def test_keyboard_only(app_page: Page) -> None:
    page = app_page.page
    kb = page.keyboard
    focused = "() => document.activeElement && (document.activeElement.id || " \
              "document.activeElement.dataset.citation && 'citation-' + " \
              "document.activeElement.dataset.citation || document.activeElement.tagName)"
    # The page starts in the question box; before it come New chat, Library, and first of all
    # a skip link that leads back to the box.
    assert page.evaluate(focused) == "question"
    stops = []
    for _ in range(6):
        kb.press("Shift+Tab")
        stops.append(page.evaluate("document.activeElement.className || document.activeElement.id"))
        if stops[-1] == "skip-link":
            break
    assert stops == ["button", "button quiet", "skip-link"], stops
    kb.press("Enter")
    assert page.evaluate(focused) == "question"

    kb.type("where did")
    kb.press("Shift+Enter")  # a new line, not a send
    kb.type("they meet?")
    assert page.locator("#question").input_value() == "where did\nthey meet?"
    assert page.locator("#thread > li").count() == 0
    kb.press("Enter")
    page.locator("#thread .answer-card").wait_for()
    assert page.evaluate(focused) == "question"

    for _ in range(10):  # back from the box to the answer's source
        kb.press("Shift+Tab")
        if page.evaluate(focused) == "citation-1":
            break
    assert page.evaluate(focused) == "citation-1"
    kb.press("Enter")
    page.locator("#article-body mark").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'MARK'")
    kb.press("Escape")  # back to the answer
    assert page.evaluate(focused) == "citation-1"

    for _ in range(15):
        kb.press("Shift+Tab")
        if page.evaluate(focused) == "new-chat":
            break
    assert page.evaluate(focused) == "new-chat"
    kb.press("Enter")
    assert page.locator("#thread > li").count() == 0
    assert page.evaluate(focused) == "question"

    # Every control has an accessible name.
    unnamed = page.evaluate("""() => [...document.querySelectorAll(
        'button, input, textarea, select, a[href]')].filter((e) => {
          if (e.closest('[hidden]') || e.closest('dialog:not([open])')) return false;
          const label = e.labels && e.labels.length ? e.labels[0].textContent : '';
          return !(e.getAttribute('aria-label') || label.trim() || e.textContent.trim());
        }).map((e) => e.outerHTML.slice(0, 80))""")
    assert not unnamed, unnamed


@needs_chromium
@pytest.mark.browser
def test_narrow_viewport(narrow_page: Page) -> None:
    page = narrow_page.page
    no_sideways_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_sideways_scroll)
    card = narrow_page.ask("where did they meet?")
    assert "Turkey" in card.locator(".answer-text").inner_text()
    assert page.evaluate(no_sideways_scroll)
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"]
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.quote')).fontSize)")
    assert size >= 14
    send = page.locator("#send").bounding_box()
    assert send is not None and send["height"] >= 40  # a comfortable touch target

    card.locator("[data-citation]").first.click()
    page.locator("#article-body mark").wait_for()
    page.wait_for_timeout(800)
    assert in_viewport(page, "#article-body mark")
    assert page.evaluate(no_sideways_scroll)
    page.locator("#article-back").click()
    assert page.evaluate("document.activeElement.dataset.citation") == "1"


@needs_chromium
@pytest.mark.browser
def test_dropped_stream_shows_an_error_and_retry_works(app_page: Page) -> None:
    page = app_page.page
    cut_short = 'event: stage\ndata: {"stage": "searching"}\n\n'
    page.route("**/v1/ask/stream", lambda route: route.fulfill(
        status=200, headers={"content-type": "text/event-stream"}, body=cut_short))
    page.locator("#question").fill("where did they meet?")
    page.locator("#question").press("Enter")
    error = page.locator("#thread .error-card")
    error.wait_for()
    assert "cut off" in error.inner_text()
    assert page.locator("#thread .status").count() == 0  # no spinner left behind
    assert page.locator("#send").is_enabled()

    page.unroute("**/v1/ask/stream")
    error.get_by_role("button", name="Retry").click()
    card = page.locator("#thread .answer-card")
    card.wait_for()
    assert "Turkey" in card.inner_text()
    assert page.locator("#thread > li").count() == 1
    assert page.locator("#thread .error-card").count() == 0


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize(("status", "retry"), [(500, True), (422, False)])
def test_refused_questions_show_the_server_error(app_page: Page, status: int, retry: bool) -> None:
    page = app_page.page
    page.route("**/v1/ask/stream", lambda route: route.fulfill(
        status=status, content_type="application/json",
        body=json.dumps({"error": f"refused with {status}"})))
    page.locator("#question").fill("where did they meet?")
    page.locator("#question").press("Enter")
    error = page.locator("#thread .error-card")
    error.wait_for()
    assert f"refused with {status}" in error.inner_text()
    assert page.locator("#thread .status").count() == 0
    assert error.get_by_role("button", name="Retry").count() == (1 if retry else 0)


AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
TEN_TURNS = ("Who did Khaled Mashaal meet?", "Where?", "Who reported it?", "What did Tehran reject?",
             "Who leads Hamas?", "How large is the Quds Force?", "When did the meeting take place?",
             "Who is Qassem Soleimani?", "What did Iran want?")


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now."""
    if not AXE.exists():
        if os.environ.get("CI"):
            raise AssertionError(f"{AXE} missing: .ci/run installs axe-core from npm")
        pytest.skip("axe-core is not installed (npm install --prefix .cache/npm axe-core@4)")
    # Evaluated by the driver: the page's own policy forbids inline scripts.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    found = page.evaluate("async () => (await axe.run(document)).violations"
                          ".map(v => ({id: v.id, impact: v.impact, n: v.nodes.length}))")
    return [f"{v['id']} ({v['impact']}, {v['n']} nodes)" for v in found
            if v["impact"] in ("serious", "critical")]


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("width", ["wide", "narrow"])
def test_axe_finds_nothing_serious_after_a_conversation(app_page: Page, narrow_page: Page,
                                                        width: str) -> None:
    page = app_page if width == "wide" else narrow_page
    for question in (*TEN_TURNS[:4], "What is the price of bitcoin today?", *TEN_TURNS[4:9]):
        page.ask(question)
    assert page.page.locator("#thread > li").count() == 10
    assert axe_violations(page.page) == []


@needs_chromium
@pytest.mark.browser
def test_sources_are_read_with_their_quote(app_page: Page) -> None:
    card = app_page.ask("where did they meet?")
    source = card.get_by_role("button", name=re.compile(r"^Source 1: .*Turkey"))
    assert source.count() == 1


@needs_chromium
@pytest.mark.browser
def test_a_conversation_survives_a_reload_and_opens_from_its_url(app_page: Page, browser: Any,
                                                                 server: str) -> None:
    page = app_page.page
    app_page.ask("Who did Khaled Mashaal meet?")
    app_page.ask("Where?")
    url = page.url
    assert "?c=" in url
    page.reload()
    page.locator("#thread .answer-card").nth(1).wait_for()
    assert page.locator("#thread > li").count() == 2
    with page.expect_request("**/v1/ask/stream") as follow_up:
        app_page.ask("Who reported it?")
    assert follow_up.value.post_data_json["conversation_id"] == url.split("?c=")[1]

    elsewhere = Page(browser, server, WIDE)  # a new browser context: nothing but the link
    try:
        elsewhere.page.goto(url)
        elsewhere.page.locator("#thread .answer-card").nth(2).wait_for()
        assert "Turkey" in elsewhere.page.locator("#thread .answer-card").nth(1).inner_text()
    finally:
        elsewhere.close()
    conversation_id = url.split("?c=")[1]
    assert httpx.delete(f"{server}/v1/conversations/{conversation_id}").status_code == 204
    page.reload()
    notice = page.locator(".notice")
    notice.wait_for()
    assert "expired" in notice.inner_text() and "?c=" not in page.url


@needs_chromium
@pytest.mark.browser
def test_enter_while_answering_says_so_and_stop_stops(app_page: Page) -> None:
    page = app_page.page
    held: list[Any] = []
    page.route("**/v1/ask/stream", lambda route: held.append(route))  # hangs until released
    page.locator("#question").fill("where did they meet?")
    page.locator("#question").press("Enter")
    page.wait_for_function("document.querySelector('#send').textContent === 'Stop'")
    assert held
    page.locator("#question").fill("Who reported it?")
    page.locator("#question").press("Enter")
    assert "Still answering" in page.locator("#composer-hint").inner_text()
    assert page.locator("#question").input_value() == "Who reported it?"  # kept, not lost
    page.locator("#send").click()
    error = page.locator("#thread > li").nth(0).locator(".error-card")
    error.wait_for()
    assert "Stopped" in error.inner_text() and page.locator("#send").inner_text() == "Ask"
    page.unroute("**/v1/ask/stream")
    error.get_by_role("button", name="Retry").click()
    page.locator("#thread > li").nth(0).locator(".answer-card").wait_for()


LONG_TURNS = ("Who did Khaled Mashaal meet?", "Where?", "Who reported it?", "What did Tehran reject?",
              "Who leads Hamas?", "How large is the Quds Force?")


@needs_chromium
@pytest.mark.browser
def test_a_long_conversation_keeps_the_header_in_place(app_page: Page) -> None:
    page = app_page.page
    for question in LONG_TURNS:
        app_page.ask(question)
    page.wait_for_timeout(600)  # smooth scrolling
    # Only the thread scrolls: the page itself stays put, header on screen, no blank band.
    assert page.evaluate("document.scrollingElement.scrollTop") == 0
    assert page.evaluate("document.querySelector('.masthead').getBoundingClientRect().top") == 0
    assert page.evaluate("document.body.getBoundingClientRect().bottom") <= WIDE["height"]


@needs_chromium
@pytest.mark.browser
def test_phone_header_stays_and_the_question_box_is_opaque(narrow_page: Page) -> None:
    page = narrow_page.page
    for question in LONG_TURNS:
        card = narrow_page.ask(question)
    page.wait_for_timeout(600)
    assert page.evaluate("document.scrollingElement.scrollTop") > 0  # the phone page scrolls...
    top = page.evaluate("document.querySelector('.masthead').getBoundingClientRect().top")
    assert top == 0  # ...and its header stays on screen
    assert page.locator("#new-chat").is_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('#composer')).backgroundImage") \
        == "none"
    # The last question is on screen with its answer, not scrolled away under the header.
    bubble = page.locator("#thread > li").last.locator(".bubble")
    box, header = bubble.bounding_box(), page.locator(".masthead").bounding_box()
    assert box is not None and header is not None and card.is_visible()
    assert box["y"] >= header["y"] + header["height"] - 1 and box["y"] < NARROW["height"]


@needs_chromium
@pytest.mark.browser
def test_copy_an_answer_link_a_source_and_select_a_quote(app_page: Page, browser: Any,
                                                         server: str) -> None:
    page = app_page.page
    app_page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    card = app_page.ask("where did they meet?")
    card.get_by_role("button", name="Copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    quote = card.locator(".quote").first.text_content()
    assert copied.startswith("Q: where did they meet?\nA: Turkey") and f"[1] “{quote}”" in copied
    link = card.get_by_role("link", name="Link to source 1").get_attribute("href")
    assert link and "#source=" in link and link in copied

    elsewhere = Page(browser, server, WIDE)  # the link alone opens the article at the quote
    try:
        elsewhere.page.goto(link)
        mark = elsewhere.page.locator("#article-body mark")
        mark.wait_for()
        assert mark.text_content() == quote and mark.locator("strong").inner_text() == "Turkey"
    finally:
        elsewhere.close()

    box = card.locator(".quote").first.bounding_box()  # drag across the quote: a selection
    assert box is not None
    page.mouse.move(box["x"] + 2, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 5, steps=8)
    page.mouse.up()
    assert page.evaluate("String(window.getSelection())").strip()
    assert page.locator("#article-view").is_hidden()  # ...that did not open the article


@needs_chromium
@pytest.mark.browser
def test_wording_for_people_not_for_developers(app_page: Page) -> None:
    page = app_page.page
    card = app_page.ask("where did they meet?")
    card.locator("details.timings summary").click()
    timings = card.locator("details.timings").inner_text()
    assert "searching by meaning" in timings and "embed query" not in timings
    assert "rescore" not in timings and "fuse" not in timings
    assert card.get_attribute("aria-label") == "Answer to: where did they meet?"
    page.route("**/v1/ask/stream", lambda route: route.abort())  # the server is not there
    page.locator("#question").fill("Who reported it?")
    page.locator("#question").press("Enter")
    error = page.locator("#thread > li").nth(1).locator(".error-card")
    error.wait_for()
    assert "could not be reached" in error.inner_text() and "lost" not in error.inner_text()


@needs_chromium
@pytest.mark.browser
def test_reports_that_disagree_are_shown_with_their_dates_and_sources(app_page: Page,
                                                                       server: str) -> None:
    gold = ROOT / "eval" / "gold" / "stories" / "articles.jsonl"
    fire = [a for a in map(json.loads, gold.read_text(encoding="utf-8").splitlines())
            if "cedar-ridge-fire-evacuations" in a["key"] or "85-percent" in a["key"]]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    ids = []
    for article in fire:
        r = httpx.post(f"{server}/v1/documents", headers=headers, timeout=120, json={
            k: article[k] for k in ("title", "text", "url", "published")})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    try:
        page = app_page.page
        card = app_page.ask("How many acres has the Cedar Ridge fire burned?")
        assert card.locator(".answer-text").inner_text() == "8,900"
        assert card.locator(".as-of").inner_text() == "As reported on 14 Aug 2023"
        other = card.locator(".disagreement")
        assert "Other reports say otherwise" in other.text_content()
        assert other.locator(".alternative strong").inner_text() == "6,500"
        assert other.locator(".alternative-status").inner_text() == " (10 Aug 2023 · an earlier report)"
        older = other.locator("[data-citation]").first
        assert older.get_attribute("data-citation") == "2"  # numbered on from the answer's
        older.click()
        mark = page.locator("#article-body mark")
        mark.wait_for()
        assert mark.locator("strong").inner_text() == "6,500"
        assert page.locator("#article-title").inner_text().startswith("Cedar Ridge fire forces")
    finally:
        for doc_id in ids:
            httpx.delete(f"{server}/v1/documents/{doc_id}", headers=headers, timeout=60)


def test_a_dated_answer_its_caption_source_and_other_outlets_are_shown(app_page: Page,
                                                                       server: str) -> None:
    page_text = ("Harbor council approves flood wall\n\n"
                 "Mayor Ruth Calder at the opening of the marina in Bayview on June 3, 2019. "
                 "(AP Photo/Lena Ortiz)\n\n"
                 "The Port Ellis council voted on Tuesday to build a flood wall along the harbor, "
                 "ending two years of argument over the waterfront.\n\n"
                 "The wall will cost $14 million and protect 2,300 homes, the city engineer said.\n")
    copy = page_text.replace("Harbor council approves", "Port Ellis backs") + \
        "\nThis story was first published by the Harbor Ledger.\n"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    ids = []
    for title, text, url in (("Harbor council approves flood wall", page_text,
                              "https://harborledger.example/wall"),
                             ("Port Ellis backs flood wall", copy, "https://wire.example/wall")):
        r = httpx.post(f"{server}/v1/documents", headers=headers, timeout=120, json={
            "title": title, "text": text, "url": url, "published": "2023-03-09"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    try:
        card = app_page.ask("On what day did the Port Ellis council vote for the flood wall?")
        assert "Tuesday" in card.locator(".answer-text").inner_text()
        assert card.locator(".answer-date").inner_text() == "“Tuesday”: 7 Mar 2023"
        also = card.locator(".also-reported").inner_text()
        assert also.startswith("Also reported by: ") and "flood wall (9 Mar 2023)" in also
        card = app_page.ask("Where was the photo of Mayor Ruth Calder taken?")
        assert "Bayview" in card.locator(".answer-text").inner_text()
        assert card.locator(".citations li").first.locator(".block-tag").inner_text() == \
            "photo caption"
    finally:
        for doc_id in ids:
            httpx.delete(f"{server}/v1/documents/{doc_id}", headers=headers, timeout=60)
