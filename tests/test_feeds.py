"""Feeds and pages (qa/feeds.py, `qa ingest FEED|URL`, POST /v1/feeds): RSS and Atom files on
disk whose links point at a local HTTP server (never the internet); each link fetched once with
Pressroom's user agent, within a byte limit, http(s) only; problems reported by link."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import app_settings
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.cli import main as qa_main
from qa.feeds import (
    FetchedPage,
    FetchError,
    check_url,
    entries_to_documents,
    fetch,
    looks_like_feed,
    read_feed,
    split_arguments,
    user_agent,
)
from qa.settings import Settings, get_settings

LIMIT = 20_000  # QA_FETCH_MAX_BYTES in these tests: big.html is over it

PARAGRAPHS = {
    "a": ["The city council approved the new ferry terminal in Harwick on Monday evening after "
          "a debate that lasted more than four hours.",
          "Mayor Ines Duarte said construction would start in April and take two years. The "
          "terminal will cost 45 million euros, most of it paid by the regional government.",
          "Opponents said the money should go to the town's bus network instead, and promised "
          "to challenge the decision in court."],
    "b": ["A storm flooded the lower town of Harwick on Thursday night, forcing more than 300 "
          "residents to leave their homes.",
          "Firefighters pumped water from the streets until the morning. The river rose two "
          "metres above its usual level, the highest in forty years.",
          "The regional government promised emergency funds for the families whose houses "
          "were damaged by the water."],
    "c": ["The Harwick library will open on Sundays from next month, the town's cultural office "
          "announced on Friday.",
          "The change follows a petition signed by more than 2,000 readers. Two librarians "
          "will be hired to cover the extra hours, the office said.",
          "The library also plans a reading club for teenagers and longer opening hours during "
          "the school holidays."],
}


def news_page(key: str, title: str, published: str | None = None) -> bytes:
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[key])
    return (f"<!doctype html><html><head><title>{title} | Harwick Ledger</title>{meta}</head>"
            f"<body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article>"
            f"<h1>{title}</h1>{body}</article><footer>Harwick Ledger, all rights reserved"
            f"</footer></body></html>").encode()


EMPTY_PAGE = b"<!doctype html><html><head><title>Gallery</title></head><body></body></html>"
BIG_PAGE = news_page("a", "Big page") + b"<!--" + b"x" * (2 * LIMIT) + b"-->"


def rss(base: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Harwick Ledger</title><link>{base}/</link>
<description>Local news</description>
<item><title>Council approves ferry terminal</title><link>{base}/a.html</link>
  <pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate>
  <description>&lt;p&gt;The council said &lt;b&gt;yes&lt;/b&gt;.&lt;/p&gt;</description></item>
<item><title>Missing story</title><link>{base}/missing.html</link>
  <pubDate>Wed, 06 Mar 2024 10:00:00 GMT</pubDate></item>
<item><title>Council approves ferry terminal</title><link>{base}/a.html</link>
  <pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate></item>
</channel></rss>"""


def atom(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Harwick Ledger</title>
<id>urn:harwick</id><updated>2024-04-03T08:00:00Z</updated>
<entry><title>Storm floods Harwick</title><link href="{base}/b.html"/><id>urn:b</id>
  <updated>2024-04-02T22:00:00Z</updated></entry>
<entry><title>Big page</title><link href="{base}/big.html"/><id>urn:big</id>
  <updated>2024-04-02T22:00:00Z</updated></entry>
<entry><title>Local file</title><link href="file:///etc/passwd"/><id>urn:file</id>
  <updated>2024-04-02T22:00:00Z</updated><summary>Should never be stored.</summary></entry>
<entry><title>Bridge opens in Harwick</title><link href="{base}/empty.html"/><id>urn:empty</id>
  <updated>2024-04-01T09:00:00Z</updated>
  <summary type="html">&lt;p&gt;The new Harwick bridge opened to traffic on Monday morning,
  two months ahead of schedule.&lt;/p&gt;&lt;p&gt;The mayor cut the ribbon.&lt;/p&gt;</summary></entry>
</feed>"""


@dataclass
class NewsServer:
    base: str
    requests: Counter[str] = field(default_factory=Counter)
    agents: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def news() -> Iterator[NewsServer]:
    """Small news pages, feeds and failures on a loopback port, counting requests per path."""
    state = NewsServer("")
    pages = {
        "/a.html": ("text/html; charset=utf-8", news_page(
            "a", "Ferry terminal approved", "2024-03-04T18:00:00Z")),
        "/a-copy.html": ("text/html; charset=utf-8", news_page(
            "a", "Ferry terminal approved", "2024-03-04T18:00:00Z")),
        "/b.html": ("text/html", news_page("b", "Storm floods the lower town")),
        "/c.html": ("text/html", news_page("c", "Library opens on Sundays")),
        "/big.html": ("text/html", BIG_PAGE),
        "/big-stream.html": ("text/html", BIG_PAGE),
        "/empty.html": ("text/html", EMPTY_PAGE),
        "/logo.png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.requests[self.path] += 1
            state.agents.append(self.headers.get("User-Agent", ""))
            if self.path == "/slow.html":
                time.sleep(3)
            if self.path == "/feed.rss":
                found: tuple[str, bytes] | None = ("application/rss+xml", rss(state.base).encode())
            else:
                found = pages.get(self.path)
            if found is None:
                self.send_error(404, "Not Found")
                return
            kind, body = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            if self.path != "/big-stream.html":  # its size shows only as it is read
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that stopped reading (too large, timed out) is expected here

    server = Server(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def feed_files(news: NewsServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("feeds")
    files = {"rss": folder / "ledger.rss", "atom": folder / "ledger.atom",
             "xml": folder / "clean.xml", "other": folder / "notes.xml"}
    files["rss"].write_text(rss(news.base))
    files["atom"].write_text(atom(news.base))
    files["xml"].write_text(f"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Council approves ferry terminal</title><link>{news.base}/a.html</link></item>
</channel></rss>""")
    files["other"].write_text("<?xml version='1.0'?><notes><note>not a feed</note></notes>")
    return files


# without the models -------------------------------------------------------------------------------
def test_rss_and_atom_entries(feed_files: dict[str, Path], news: NewsServer) -> None:
    entries = read_feed(feed_files["rss"])
    assert [e.title for e in entries] == ["Council approves ferry terminal", "Missing story",
                                          "Council approves ferry terminal"]
    assert [e.link for e in entries] == [f"{news.base}/a.html", f"{news.base}/missing.html",
                                         f"{news.base}/a.html"]
    assert [e.published for e in entries] == ["2024-03-05", "2024-03-06", "2024-03-05"]
    assert entries[0].summary == "The council said yes." and entries[1].summary is None
    atom_entries = read_feed(feed_files["atom"])
    assert atom_entries[0].published == "2024-04-02" and atom_entries[0].link == f"{news.base}/b.html"
    assert atom_entries[3].text == ("The new Harwick bridge opened to traffic on Monday morning, "
                                    "two months ahead of schedule.\nThe mayor cut the ribbon.")
    with pytest.raises(Exception, match="not an RSS or Atom feed"):
        read_feed(b"<html><body>hello</body></html>", "page.rss")


def test_arguments_split_into_files_and_feeds(feed_files: dict[str, Path]) -> None:
    paths, sources = split_arguments([str(feed_files["rss"]), str(feed_files["xml"]),
                                      str(feed_files["other"]), "article.txt",
                                      "https://news.example/feed", "file:///etc/passwd"])
    assert paths == [str(feed_files["other"]), "article.txt"]
    assert sources == [feed_files["rss"], feed_files["xml"], "https://news.example/feed",
                       "file:///etc/passwd"]
    assert looks_like_feed(b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- c --><feed xmlns="...">')
    assert not looks_like_feed(b"<!doctype html><html>")


def test_fetch_sends_the_user_agent_and_keeps_to_its_limits(news: NewsServer) -> None:
    settings = Settings(fetch_max_bytes=LIMIT, fetch_private_addresses=True)
    before = len(news.agents)
    page = fetch(f"{news.base}/b.html", settings)
    assert page.content_type == "text/html" and b"storm flooded" in page.data.lower()
    assert news.agents[before:] == [user_agent()]
    assert user_agent().startswith("Pressroom/0.1.0 (")
    with pytest.raises(FetchError, match=rf"/big.html: page is {len(BIG_PAGE)} bytes, larger "
                       rf"than {LIMIT} bytes \(the limit, QA_FETCH_MAX_BYTES\)"):
        fetch(f"{news.base}/big.html", settings)  # as its Content-Length says
    with pytest.raises(FetchError, match=rf"/big-stream.html: page is larger than {LIMIT} bytes"):
        fetch(f"{news.base}/big-stream.html", settings)  # none said: reading stops past it
    with pytest.raises(FetchError, match=r"/missing.html: HTTP 404"):
        fetch(f"{news.base}/missing.html", settings)
    with pytest.raises(FetchError, match="content type image/png is not a web page or feed"):
        fetch(f"{news.base}/logo.png", settings)
    for url in ("file:///etc/passwd", "ftp://news.example/a.html", "data:text/html,<p>x</p>"):
        with pytest.raises(FetchError, match="only http and https URLs are fetched"):
            fetch(url, settings)
    with pytest.raises(FetchError, match="not an absolute URL"):
        check_url("/a.html")
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"/slow.html: timed out after 0.5 s"):
        fetch(f"{news.base}/slow.html", Settings(fetch_timeout_seconds=0.5,
                                                 fetch_private_addresses=True))
    assert time.monotonic() - started < 2


def test_local_and_private_addresses_are_not_fetched_unless_allowed(news: NewsServer) -> None:
    requests = sum(news.requests.values())
    for url in (f"{news.base}/b.html", "http://localhost:9/a.html", "http://10.0.0.8/feed",
                "http://169.254.169.254/latest/meta-data/", "http://[::1]:8000/"):
        with pytest.raises(FetchError, match="is a private or local address .* set "
                           "QA_FETCH_PRIVATE_ADDRESSES=true"):
            fetch(url, Settings(fetch_private_addresses=False))
    assert sum(news.requests.values()) == requests  # nothing was asked of the local server


def test_entries_resolve_relative_links_and_fetch_each_link_once(news: NewsServer) -> None:
    entries = read_feed(b"""<rss version="2.0"><channel><title>T</title>
        <item><title>One</title><link>/c.html</link></item>
        <item><title>Again</title><link>/c.html</link></item>
        <item><title>Known</title><link>/b.html</link></item></channel></rss>""")
    asked: list[str] = []

    def fetcher(url: str, settings: Settings) -> FetchedPage:
        asked.append(url)
        return fetch(url, settings)

    outcomes = entries_to_documents(entries, Settings(fetch_private_addresses=True),
                                    base=f"{news.base}/feed.rss",
                                    known=lambda url: "known-id" if url.endswith("/b.html") else None,
                                    fetcher=fetcher)
    assert asked == [f"{news.base}/c.html"]
    first, again, known = outcomes
    assert first.document is not None and first.document.url == f"{news.base}/c.html"
    assert first.document.title == "One" and first.document.story_key == f"{news.base}/c.html"
    assert again.repeat_of is first and again.document is None
    assert known.status == "already_ingested" and known.document_id == "known-id"


# through the service ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(api_env: Path) -> Iterator[TestClient]:
    """The app on a fresh data dir, pages over LIMIT bytes refused (the CLI, run in this
    process, reads the same settings and data dir)."""
    from api.app import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_FETCH_MAX_BYTES", str(LIMIT))
        mp.setenv("QA_FETCH_PRIVATE_ADDRESSES", "true")  # the test's pages are on 127.0.0.1
        get_settings.cache_clear()
        with TestClient(create_app()) as c:
            yield c
    get_settings.cache_clear()


def _documents(client: TestClient) -> dict[str, dict]:
    return {d["url"]: d for d in client.get("/v1/documents").json()}


def test_cli_ingests_feeds_once_and_names_each_problem(
        client: TestClient, news: NewsServer, feed_files: dict[str, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    base = news.base
    assert qa_main(["ingest", str(feed_files["rss"]), str(feed_files["atom"])]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    errors = sorted(line for line in err.splitlines() if line.startswith("error: "))
    assert errors == ["error: file://etc/passwd: only http and https URLs are fetched (not file:)",
                      f"error: {base}/big.html: page is {len(BIG_PAGE)} bytes, larger than "
                      f"{LIMIT} bytes (the limit, QA_FETCH_MAX_BYTES)",
                      f"error: {base}/missing.html: HTTP 404 Not Found"]
    assert f"note: {base}/empty.html: no article text found in the HTML; the feed's own text " \
           "of the entry was stored instead" in err
    added = [line.split("\t") for line in out.splitlines() if line.startswith("added\t")]
    assert sorted(line[3] for line in added) == ["Bridge opens in Harwick",
                                                 "Council approves ferry terminal",
                                                 "Storm floods Harwick"]
    assert news.requests["/a.html"] == 1  # the repeated link was fetched once
    docs = _documents(client)
    assert set(docs) == {f"{base}/a.html", f"{base}/b.html", f"{base}/empty.html"}
    ferry, storm, bridge = docs[f"{base}/a.html"], docs[f"{base}/b.html"], docs[f"{base}/empty.html"]
    assert ferry["title"] == "Council approves ferry terminal" and ferry["story_key"] == f"{base}/a.html"
    assert ferry["published"] == "2024-03-04"  # the page's own date wins over the feed's
    assert storm["published"] == "2024-04-02"  # the page declares none: the feed's
    text = client.get(f"/v1/documents/{storm['id']}").json()["text"]
    assert "300 residents" in text and "Home" not in text and "rights reserved" not in text
    bridge_text = client.get(f"/v1/documents/{bridge['id']}").json()["text"]
    assert bridge_text.startswith("The new Harwick bridge opened")
    assert all(agent == user_agent() for agent in news.agents)

    # Again: nothing added, no stored link fetched again; the failed links are tried again.
    fetched = news.requests.copy()
    assert qa_main(["ingest", str(feed_files["rss"]), str(feed_files["atom"])]) == 1
    out, err = capsys.readouterr()
    assert not [line for line in out.splitlines() if line.startswith("added")]
    skipped = sorted(line.split("\t")[2] for line in out.splitlines()
                     if line.startswith("already ingested\t"))
    assert skipped == [f"{base}/a.html", f"{base}/b.html", f"{base}/empty.html"]
    for path in ("/a.html", "/b.html", "/empty.html"):
        assert news.requests[path] == fetched[path], path
    assert news.requests["/missing.html"] == fetched["/missing.html"] + 1
    assert len(_documents(client)) == 3

    # A feed whose every link is stored: exit 0; a page URL with text already stored, by hash.
    assert qa_main(["ingest", str(feed_files["xml"])]) == 0
    assert capsys.readouterr().out.startswith("already ingested\t")
    assert qa_main(["ingest", f"{base}/a-copy.html"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"already ingested\t{ferry['id']}\t") and len(_documents(client)) == 3
    assert qa_main(["ingest", "file:///etc/passwd"]) == 1
    assert "error: file:///etc/passwd: only http and https URLs are fetched (not file:)" in \
        capsys.readouterr().err


def test_feeds_route(client: TestClient, news: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    base = news.base
    inline = f"""<rss version="2.0"><channel><title>T</title>
        <item><title>Library opens on Sundays</title><link>{base}/c.html</link>
          <pubDate>Fri, 10 May 2024 09:00:00 GMT</pubDate></item>
        <item><title>Missing story</title><link>{base}/missing.html</link></item>
        <item><title>Library again</title><link>{base}/c.html</link></item></channel></rss>"""
    r = client.post("/v1/feeds", json={"feed": inline})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["kind"], body["added"], body["already_ingested"], body["failed"]) == \
        ("feed", 1, 1, 1)
    library, missing, again = body["entries"]
    assert library["status"] == "added" and library["link"] == f"{base}/c.html"
    assert library["title"] == "Library opens on Sundays" and library["document_id"]
    assert missing == {"link": f"{base}/missing.html", "title": "Missing story",
                       "status": "failed", "reason": "HTTP 404 Not Found", "note": None,
                       "document_id": None}
    assert again["status"] == "already_ingested" and again["document_id"] == library["document_id"]
    assert client.get(f"/v1/documents/{library['document_id']}").json()["published"] == "2024-05-10"

    fetched = news.requests["/feed.rss"]
    by_url = client.post("/v1/feeds", json={"url": f"{base}/feed.rss"})
    assert by_url.status_code == 200 and news.requests["/feed.rss"] == fetched + 1
    statuses = [(e["link"], e["status"]) for e in by_url.json()["entries"]]
    assert statuses[1:] == [(f"{base}/missing.html", "failed"), (f"{base}/a.html",
                                                                "already_ingested")]
    assert statuses[0][0] == f"{base}/a.html"  # added, or already by the CLI test
    page = client.post("/v1/feeds", json={"url": f"{base}/c.html"}).json()
    assert page["kind"] == "page" and page["entries"][0]["status"] == "already_ingested"

    for payload, status, message in [
            ({"url": "file:///etc/passwd"}, 422, "only http and https URLs are fetched"),
            ({}, 422, "exactly one of 'url'"),
            ({"url": f"{base}/c.html", "feed": inline}, 422, "exactly one of 'url'"),
            ({"feed": "<html><body>hi</body></html>"}, 422, "feed: not an RSS or Atom feed"),
            ({"url": f"{base}/missing.html"}, 422, f"{base}/missing.html: HTTP 404 Not Found"),
            ({"url": f"{base}/big-stream.html"}, 413, f"page is larger than {LIMIT} bytes"),
            ({"url": f"{base}/logo.png"}, 422, "content type image/png is not a web page"),
            ({"url": f"{base}/empty.html"}, 422, "no article text found"),
            ({"feed": inline, "extra": 1}, 422, "extra")]:
        r = client.post("/v1/feeds", json=payload)
        assert r.status_code == status and message in r.json()["error"], (payload, r.text)
    bad = client.post("/v1/feeds", content=b"{nope", headers={"content-type": "application/json"})
    assert bad.status_code == 400

    assert isinstance(client.app, FastAPI)
    with app_settings(client.app, api_key="s3cret"):
        assert client.post("/v1/feeds", json={"feed": inline}).status_code == 401
        wrong = client.post("/v1/feeds", json={"feed": inline},
                            headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401 and "API key" in wrong.json()["error"]
        cross = client.post("/v1/feeds", json={"feed": inline},
                            headers={"Authorization": "Bearer s3cret",
                                     "Origin": "https://elsewhere.example"})
        assert cross.status_code == 403
        ok = client.post("/v1/feeds", json={"feed": inline},
                         headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["entries"][0]["status"] == "already_ingested"


def test_a_feed_past_its_entry_limit_is_cut_and_says_so() -> None:
    entries = read_feed(("<rss version='2.0'><channel><title>T</title>" + "".join(
        f"<item><title>Story {i}</title><link>ftp://news.example/{i}</link></item>"
        for i in range(5)) + "</channel></rss>").encode())
    outcomes = entries_to_documents(entries, Settings(feed_max_entries=3))
    assert [o.reason for o in outcomes[3:]] == [
        "the feed has more than 3 entries (the limit, QA_FEED_MAX_ENTRIES)"] * 2
    assert all(o.status == "failed" for o in outcomes)  # ftp: links are refused, never fetched


def test_a_server_that_trickles_its_headers_is_cut_off_in_time() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
                if stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(0.1)  # each read is quick; the whole never ends in time
        except OSError:
            pass  # cut off by the client: what this test wants
        conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/page.html"
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 1 s"):
        fetch(url, Settings(fetch_timeout_seconds=1, fetch_private_addresses=True))
    assert time.monotonic() - started < 1.6
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_the_connected_address_is_checked_not_only_the_name(news: NewsServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # A name that resolved to a public address when checked, and to this machine when
    # connected (DNS rebinding), is refused by the connection's own check.
    import qa.feeds

    monkeypatch.setattr(qa.feeds, "check_public", lambda url: None)
    requests = sum(news.requests.values())
    with pytest.raises(FetchError, match=r"127.0.0.1 is a private or local address"):
        fetch(f"{news.base}/b.html", Settings(fetch_private_addresses=False))
    assert sum(news.requests.values()) == requests
