"""Feeds and pages: RSS/Atom feeds (files or URLs) and news pages fetched over HTTP(S).

Each feed entry with a link becomes one document: its page is fetched (with a timeout, a byte
limit and Pressroom's user agent; http and https only) and read by the HTML loader; when the
page cannot be fetched or holds no article text, the entry's own content or summary is stored
instead and a note says so. The entry's link is the document's `url`, and so its story key.

Every link is ingested once: a link already stored (a document whose story key is that URL) is
not fetched again, a link repeated in the feeds of one run is fetched once, and a page whose
text is already stored is "already ingested" (the store keeps one document per text).

Which fields win: the entry's title (a feed's headline carries no site name), else the page's;
the page's declared date (its metadata or dateline, as for any page), else the entry's.
"""

from __future__ import annotations

import functools
import http.client
import io
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

from qa.dates import DateError, parse_date
from qa.loaders import LoadError, decode, from_html, from_text, looks_like_html, read_file
from qa.settings import Settings
from qa.types import NewDocument

if TYPE_CHECKING:
    from qa.corpus import IngestResult
    from qa.storage.documents import DocumentRecord

log = logging.getLogger(__name__)

FEED_SUFFIXES = {".rss", ".atom", ".xml"}
SCHEMES = ("http", "https")
HTML_TYPES = {"text/html", "application/xhtml+xml"}
FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml",
              "application/xml", "text/xml"}
PAGE_TYPES = HTML_TYPES | FEED_TYPES | {"text/plain"}
PROJECT = "Pressroom"
DISTRIBUTION = "pressroom"  # the installed package's name (pyproject's [project] name)
_CHUNK = 65_536
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_FEED_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<\?[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*)*"
    rb"<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE | re.DOTALL)

Status = Literal["added", "already_ingested", "failed"]


@functools.cache
def user_agent() -> str:
    """`Pressroom/<version> (+<project URL>)`: who is fetching, and where to read about it
    (the project's URL from its package metadata, pyproject's [project.urls])."""
    from importlib import metadata

    try:
        version = metadata.version(DISTRIBUTION)
        urls = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        version, urls = "0", []
    # pyproject's [project.urls] (the first one); without one, what the product is
    about = f"+{urls[0].split(',', 1)[-1].strip()}" if urls else "questions answered from news articles"
    return f"{PROJECT}/{version} ({about})"


# fetching ----------------------------------------------------------------------------------------
class FetchError(LoadError):
    """A URL that could not be fetched, or whose response is refused; names the URL."""

    def __init__(self, url: str, reason: str, too_large: bool = False):
        super().__init__(f"{url}: {reason}")
        self.url, self.reason = url, reason
        self.too_large = too_large  # over QA_FETCH_MAX_BYTES


@dataclass(frozen=True)
class FetchedPage:
    url: str  # as asked
    final_url: str  # after redirects
    content_type: str  # the media type, lower case ("" when the server sent none)
    charset: str | None
    data: bytes


class _Guard:
    """What one fetch may connect to, and the connections it opened (cut when its time is up).
    Every connection's peer is checked once connected, so a name that resolved to a public
    address for `check_public` and to a private one for the connection (DNS rebinding) is
    still refused."""

    def __init__(self, private: bool):
        self.private = private
        self.connections: list[http.client.HTTPConnection] = []

    def check(self, conn: http.client.HTTPConnection) -> None:
        self.connections.append(conn)
        if self.private or conn.sock is None:
            return
        import ipaddress

        peer = ipaddress.ip_address(str(conn.sock.getpeername()[0]).split("%", 1)[0])
        if not peer.is_global:
            conn.close()
            raise FetchError(f"http://{conn.host}", f"{conn.host} is a private or local address "
                             f"({peer}); set QA_FETCH_PRIVATE_ADDRESSES=true to fetch such URLs")

    def cut(self) -> None:
        """Shut every connection down: a read still waiting on it returns at once."""
        import socket

        for conn in self.connections:
            try:
                if conn.sock is not None:
                    conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.guard = guard

    def connect(self) -> None:
        super().connect()
        self.guard.check(self)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.guard = guard

    def connect(self) -> None:
        super().connect()
        self.guard.check(self)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, guard: _Guard):
        super().__init__()
        self.guard = guard

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_GuardedHTTPConnection, guard=self.guard), req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, guard: _Guard):
        super().__init__()
        self.guard = guard

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_GuardedHTTPSConnection, guard=self.guard), req,
                            context=self._context)  # type: ignore[attr-defined]


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http and https only (urllib's own also follows ftp:), and to public
    addresses only unless private ones are allowed."""

    def __init__(self, private: bool):
        self.private = private

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() not in SCHEMES:
            raise FetchError(req.full_url, f"redirected to {newurl}: only http and https URLs "
                             "are fetched")
        if not self.private:
            check_public(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(guard: _Guard) -> urllib.request.OpenerDirector:
    """An opener that speaks http and https only (no file:, ftp: or data: handlers), through
    connections `guard` checks and can cut."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), _GuardedHTTPHandler(guard),
                    _GuardedHTTPSHandler(guard), urllib.request.HTTPDefaultErrorHandler(),
                    _HttpOnlyRedirects(guard.private), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def check_public(url: str) -> None:
    """FetchError unless every address `url`'s host resolves to is public (not loopback,
    private, link-local, reserved or multicast): a feed's links and a caller's URLs must not
    reach the machine's or its network's internal services."""
    import ipaddress
    import socket

    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise FetchError(url, f"cannot resolve {host} ({exc})") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise FetchError(url, f"{host} is a private or local address ({address}); set "
                             "QA_FETCH_PRIVATE_ADDRESSES=true to fetch such URLs")


def check_url(url: str) -> str:
    """`url` stripped, or FetchError when it is not an http(s) URL with a host."""
    url = url.strip()
    parts = urlsplit(url)
    if not parts.scheme:
        raise FetchError(url, "not an absolute URL: only http and https URLs are fetched")
    if parts.scheme.lower() not in SCHEMES:
        raise FetchError(url, f"only http and https URLs are fetched (not {parts.scheme}:)")
    if not parts.hostname:
        raise FetchError(url, "a URL without a host")
    return url


_FETCHERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fetch")


def fetch(url: str, settings: Settings) -> FetchedPage:
    """The page at `url` (http or https), read within QA_FETCH_TIMEOUT_SECONDS in all (name
    lookup, connecting, headers and body: a server that trickles bytes is cut off when the time
    is up) and QA_FETCH_MAX_BYTES (reading stops past it and the page is refused); its content
    type must be a web page, a feed or plain text. FetchError names the URL."""
    url = check_url(url)
    guard = _Guard(settings.fetch_private_addresses)
    timeout = settings.fetch_timeout_seconds
    job = _FETCHERS.submit(_fetch, url, settings, guard)
    try:
        return job.result(timeout=timeout)
    except FutureTimeout:
        guard.cut()
        raise FetchError(url, f"timed out after {timeout:g} s") from None


def _fetch(url: str, settings: Settings, guard: _Guard) -> FetchedPage:
    limit, timeout = settings.fetch_max_bytes, settings.fetch_timeout_seconds
    request = urllib.request.Request(url, headers={
        "User-Agent": user_agent(),
        "Accept": "text/html, application/xhtml+xml, application/rss+xml, "
                  "application/atom+xml, application/xml;q=0.9, text/plain;q=0.8",
    })
    if not settings.fetch_private_addresses:
        check_public(url)
    deadline = time.monotonic() + timeout
    try:
        with _opener(guard).open(request, timeout=timeout) as response:
            content_type = response.headers.get_content_type() \
                if response.headers.get("Content-Type") else ""
            if content_type and content_type not in PAGE_TYPES:
                raise FetchError(url, f"content type {content_type} is not a web page or feed")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(url, f"page is {declared} bytes, larger than {limit} bytes "
                                 "(the limit, QA_FETCH_MAX_BYTES)", too_large=True)
            body = bytearray()
            while chunk := response.read1(_CHUNK):  # what has arrived: the deadline holds
                body += chunk
                if len(body) > limit:
                    raise FetchError(url, f"page is larger than {limit} bytes (the limit, "
                                     "QA_FETCH_MAX_BYTES)", too_large=True)
                if time.monotonic() > deadline:
                    raise FetchError(url, f"timed out after {timeout:g} s")
            page = FetchedPage(url, response.geturl(), content_type,
                               response.headers.get_content_charset(), bytes(body))
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        raise FetchError(url, f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise FetchError(url, f"timed out after {timeout:g} s") from exc
        raise FetchError(url, f"cannot fetch ({reason})") from exc
    except TimeoutError as exc:
        raise FetchError(url, f"timed out after {timeout:g} s") from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:  # reset, cut short, garbled
        raise FetchError(url, f"cannot fetch ({exc})") from exc
    log.info("fetched %s: %d bytes, %s", url, len(page.data), page.content_type or "no type")
    return page


def is_feed(page: FetchedPage) -> bool:
    """Whether a fetched response is a feed: a feed's root element first, whatever the content
    type says (feeds are often served as text/html or text/plain; a page never starts so)."""
    return looks_like_feed(page.data)


def looks_like_feed(data: bytes) -> bool:
    """An RSS, Atom or RDF root element first (after an XML declaration, comments, processing
    instructions and a doctype)."""
    return _FEED_START.match(data[:_CHUNK]) is not None


def page_document(page: FetchedPage) -> NewDocument:
    """The article of a fetched page (the HTML loader; plain text as a text file), named by its
    URL, with the URL as its `url`. LoadError names the URL."""
    text = None
    if page.charset:
        try:
            text = page.data.decode(page.charset)
        except (LookupError, UnicodeDecodeError):
            text = None
    if text is None:
        text, _ = decode(page.data, page.url)
    if page.content_type in HTML_TYPES or (page.content_type != "text/plain"
                                           and looks_like_html(text)):
        doc = from_html(text, page.url)
    else:
        doc = from_text(text, page.url)
    return replace(doc, url=page.url, key=None)


# feeds -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedEntry:
    title: str | None
    link: str | None
    published: str | None  # ISO date
    summary: str | None  # plain text
    content: str | None  # plain text of the entry's full content, when the feed carries it

    @property
    def text(self) -> str | None:
        """What the feed itself says of the article: its content, else its summary."""
        return self.content or self.summary


def read_feed(source: bytes | Path, name: str | None = None,
              content_type: str | None = None) -> list[FeedEntry]:
    """The entries of an RSS or Atom feed (bytes, or a file); LoadError naming it when it is
    not one. `content_type` is the HTTP header it came with (its charset wins over the XML
    declaration's). Relative links stay relative (see `entries_to_documents`' `base`)."""
    import feedparser

    if isinstance(source, Path):
        name = name or str(source)
        source = read_file(source)
    name = name or "feed"
    headers = {"content-type": content_type} if content_type else {}
    # A stream, never a string: feedparser would fetch a string that looks like a URL.
    parsed = feedparser.parse(io.BytesIO(source), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        why = parsed.get("bozo_exception")
        raise LoadError(f"{name}: not an RSS or Atom feed" + (f" ({why})" if why else ""))
    if parsed.get("bozo"):
        log.info("%s: malformed feed, read what it could (%s)", name, parsed.get("bozo_exception"))
    return [_entry(e) for e in parsed.entries]


def _entry(entry: Any) -> FeedEntry:
    published = None
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if stamp:
        try:
            published = parse_date(time.strftime("%Y-%m-%d", stamp))
        except (DateError, ValueError, TypeError):
            published = None
    contents = [_detail_text(c) for c in entry.get("content") or []]
    summary = entry.get("summary_detail") or (
        {"value": entry["summary"], "type": "text/html"} if entry.get("summary") else None)
    title = " ".join(str(entry.get("title") or "").split()) or None
    link = str(entry.get("link") or "").strip() or None
    return FeedEntry(title=title, link=link, published=published,
                     summary=_detail_text(summary) if summary else None,
                     content=next((c for c in contents if c), None))


def _detail_text(detail: Any) -> str | None:
    value = str(detail.get("value") or "")
    kind = str(detail.get("type") or "text/html")
    text = html_text(value) if "html" in kind else value.strip()
    return text or None


_SPACES = re.compile(r"\s+")
_BLOCK_TAGS = ("p", "br", "li", "div", "blockquote", "tr", "h1", "h2", "h3", "h4", "h5", "h6")


def html_text(html: str) -> str:
    """An HTML fragment's text, one line per paragraph (a feed's summary or content)."""
    import lxml.html
    from lxml.etree import ParserError

    if "<" not in html:
        return "\n".join(" ".join(line.split()) for line in html.splitlines() if line.strip())
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ParserError, ValueError):
        return html.strip()
    for el in root.iter():  # the source's own line breaks are spaces
        el.text = _SPACES.sub(" ", el.text) if isinstance(el.text, str) else el.text
        el.tail = _SPACES.sub(" ", el.tail) if el.tail else el.tail
    for el in root.iter(*_BLOCK_TAGS):
        el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


# entries -> documents ----------------------------------------------------------------------------
@dataclass
class EntryOutcome:
    """What became of one feed entry (or one page URL): a document to add (`document`, no
    status yet), or a status with its reason."""

    link: str
    title: str | None = None
    status: Status | None = None
    reason: str | None = None
    note: str | None = None  # e.g. that the feed's summary was stored instead of the page
    document: NewDocument | None = None
    document_id: str | None = None
    repeat_of: EntryOutcome | None = None  # the same link earlier in this run
    page: bool = False  # a page URL given itself (not a feed's entry)

    def settle(self, result: IngestResult) -> None:
        """The store's answer: added, or its text was already stored."""
        self.document_id = result.document.id
        self.status = "added" if result.created else "already_ingested"
        if not result.created:
            self.reason = "the same text is already stored"

    def fail(self, reason: str) -> None:
        self.status, self.reason, self.document = "failed", reason, None


@dataclass
class Gathered:
    """What `gather` found: one outcome per entry or page, and the sources that could not be
    read at all (a missing file, a feed URL that failed, a file that is not a feed)."""

    entries: list[EntryOutcome] = field(default_factory=list)
    problems: list[LoadError] = field(default_factory=list)

    @property
    def pending(self) -> list[EntryOutcome]:
        """The outcomes with a document to add."""
        return [e for e in self.entries if e.document is not None and e.status is None]

    def resolve_repeats(self) -> None:
        """A link repeated in the feeds ends as its first occurrence did."""
        for e in self.entries:
            if e.repeat_of is not None:
                e.document_id = e.repeat_of.document_id
                e.status = "failed" if e.repeat_of.status == "failed" else "already_ingested"
                e.reason = "the same link appears earlier in the feed"


Fetcher = Callable[[str, Settings], FetchedPage]
Known = Callable[[str], str | None]


def stored_url(find_story: Callable[[str], DocumentRecord | None]) -> Known:
    """The id of the stored document whose story is `url` (a link once ingested from a feed,
    or a page added with that URL and no other key), or that has that URL, else None;
    `find_story` is the corpus's lookup of both (Corpus.find_story)."""
    def known(url: str) -> str | None:
        record = find_story(url)
        return record.id if record is not None else None
    return known


def entries_to_documents(entries: list[FeedEntry], settings: Settings, *,
                         known: Known | None = None, base: str | None = None,
                         seen: dict[str, EntryOutcome] | None = None,
                         fetcher: Fetcher = fetch, source: str = "feed") -> list[EntryOutcome]:
    """One outcome per entry: a link already stored (`known`) or already met in this run
    (`seen`, shared between the feeds of one run) is not fetched; other links are fetched and
    read with the HTML loader, falling back to the entry's own text (with a note) when the page
    cannot be fetched or has no article text. Links other than http(s) are refused. Relative
    links are resolved against `base` (the feed's URL)."""
    seen = {} if seen is None else seen
    outcomes: list[EntryOutcome] = []
    for i, entry in enumerate(entries):
        if i >= settings.feed_max_entries:
            outcomes.append(EntryOutcome(entry.link or f"{source}[{i}]", entry.title,
                                         status="failed", reason=f"the feed has more than "
                                         f"{settings.feed_max_entries} entries (the limit, "
                                         "QA_FEED_MAX_ENTRIES)"))
            continue
        if not entry.link:
            outcomes.append(EntryOutcome(f"{source}[{i}]", entry.title, status="failed",
                                         reason="the entry has no link"))
            continue
        link = urljoin(base, entry.link) if base else entry.link
        outcome = EntryOutcome(link, entry.title)
        outcomes.append(outcome)
        if link in seen:
            outcome.repeat_of = seen[link]
            continue
        seen[link] = outcome
        stored = known(link) if known else None
        if stored is not None:
            outcome.status, outcome.document_id = "already_ingested", stored
            outcome.reason = "a document with this URL is already stored"
            continue
        try:
            check_url(link)
        except FetchError as exc:
            outcome.fail(exc.reason)
            continue
        outcome.document = _entry_document(entry, link, settings, fetcher, outcome)
        if outcome.document is not None:
            outcome.title = outcome.document.title
    return outcomes


def _entry_document(entry: FeedEntry, link: str, settings: Settings, fetcher: Fetcher,
                    outcome: EntryOutcome) -> NewDocument | None:
    try:
        page = fetcher(link, settings)
        if is_feed(page):
            raise LoadError(f"{link}: a feed, not an article page")
        doc = page_document(page)
    except LoadError as exc:  # FetchError included
        why = exc.reason if isinstance(exc, FetchError) else str(exc).removeprefix(f"{link}: ")
        if not entry.text:
            outcome.fail(why)
            return None
        log.info("%s: %s; storing the feed's own text", link, why)
        outcome.note = f"{why}; the feed's own text of the entry was stored instead"
        doc = NewDocument(title=entry.title or link, text=entry.text)
    return replace(doc, title=entry.title or doc.title, url=link, key=None, source=link,
                   published=doc.published or entry.published)


def split_arguments(arguments: list[str]) -> tuple[list[str], list[str | Path]]:
    """`qa ingest`'s arguments: (paths for qa.loaders, sources for `gather`). A URL (any
    scheme: only http and https are fetched, the rest refused by name), and a .rss/.atom file
    or a .xml file that is a feed, are sources; everything else is a path."""
    paths: list[str] = []
    sources: list[str | Path] = []
    for argument in arguments:
        path = Path(argument)
        if _URL.match(argument):
            sources.append(argument)
        elif path.suffix.lower() in FEED_SUFFIXES and path.is_file() and (
                path.suffix.lower() != ".xml" or _file_looks_like_feed(path)):
            sources.append(path)
        else:
            paths.append(argument)
    return paths, sources


def _file_looks_like_feed(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return looks_like_feed(f.read(_CHUNK))
    except OSError:
        return False


def gather(sources: list[str | Path], settings: Settings, *, known: Known | None = None,
           fetcher: Fetcher = fetch, max_file_bytes: int | None = None) -> Gathered:
    """The outcomes of every feed file, feed URL and page URL in `sources`; a link is fetched
    once in the run. A page URL (a response that is not a feed) is one article, fetched even
    when stored before (new text under its URL becomes a new version; the same text is
    already ingested)."""
    gathered = Gathered()
    seen: dict[str, EntryOutcome] = {}
    for source in sources:
        name = str(source)
        try:
            if isinstance(source, Path):
                entries = read_feed(read_file(source, max_file_bytes), name)
                base = None
            else:
                page = fetcher(source, settings)
                if not is_feed(page):
                    doc = replace(page_document(page), url=source, source=source)
                    outcome = EntryOutcome(source, doc.title, document=doc, page=True)
                    gathered.entries.append(outcome)
                    seen.setdefault(source, outcome)
                    continue
                header = page.content_type + (f"; charset={page.charset}" if page.charset else "")
                entries, base = read_feed(page.data, name, header or None), page.final_url
        except LoadError as exc:
            gathered.problems.append(exc)
            continue
        log.info("%s: %d entries", name, len(entries))
        gathered.entries += entries_to_documents(entries, settings, known=known, base=base,
                                                 seen=seen, fetcher=fetcher, source=name)
    return gathered
