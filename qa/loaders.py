"""Turn files (plain text, Markdown, HTML news pages, JSON/JSONL records, PDF, DOCX, folders)
into documents.

A PDF's pages are kept: its text is the pages' text joined by blank lines, and the document
carries each page's (start, end) character range, so a citation can name its page.

What cannot be read is reported by name, one problem per file, record or folder entry, and never
stops the rest: a folder with one bad file still yields every good one.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qa.dates import DateError, dateline_date, html_published, published_field
from qa.text import clean_text
from qa.types import NewDocument

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
BINARY_SUFFIXES = {".pdf", ".docx"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | BINARY_SUFFIXES
PAGE_SEPARATOR = "\n\n"  # between a PDF's pages in the stored text


class LoadError(ValueError):
    """A file, record or folder entry that cannot be turned into documents; the message names
    it and says why."""


@dataclass
class LoadReport:
    """What a load found: the documents, one message per thing that could not be read, and
    notes worth telling (the encoding a non-UTF-8 file was decoded with)."""

    documents: list[NewDocument] = field(default_factory=list)
    problems: list[LoadError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# files -------------------------------------------------------------------------------------------
def iter_files(paths: list[Path]) -> Iterator[Path | LoadError]:
    """Each given file, and the supported files under each given folder (walked in sorted order,
    following links once: a link loop or a dangling link is reported, not fatal)."""
    for path in paths:
        if path.is_dir():
            yield from _walk(path, set())
        elif path.exists():
            yield path
        elif path.is_symlink():
            yield LoadError(f"{path}: dangling link (its target does not exist)")
        else:
            yield LoadError(f"{path}: no such file or folder")


def _walk(folder: Path, seen: set[str]) -> Iterator[Path | LoadError]:
    real = os.path.realpath(folder)
    if real in seen:
        yield LoadError(f"{folder}: link loop (a folder that contains itself); skipped")
        return
    seen = seen | {real}
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        yield LoadError(f"{folder}: cannot list the folder ({exc.strerror or exc})")
        return
    for entry in entries:
        try:
            if entry.is_dir():
                yield from _walk(entry, seen)
            elif entry.suffix.lower() not in SUPPORTED:
                continue
            elif not entry.exists():
                yield LoadError(f"{entry}: dangling link (its target does not exist)")
            else:
                yield entry
        except OSError as exc:  # a link loop on stat, for one
            yield LoadError(f"{entry}: {exc.strerror or exc}")


def read_file(path: Path, max_bytes: int | None = None) -> bytes:
    """A file's bytes, or LoadError naming it (unreadable, a folder, too large)."""
    try:
        if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
            raise LoadError(f"{path}: file is {size} bytes; the limit is {max_bytes}")
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise LoadError(f"{path}: is a folder, not a file") from exc
    except OSError as exc:
        raise LoadError(f"{path}: cannot read ({exc.strerror or exc})") from exc


# decoding ----------------------------------------------------------------------------------------
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16")]
_MAGIC = [(b"%PDF-", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"GIF8", "a GIF image"), (b"PK\x03\x04", "a ZIP archive (or an ODT/EPUB/XLSX/PPTX file)"),
          (b"\x1f\x8b", "gzip-compressed data"), (b"\x7fELF", "a program"),
          (b"RIFF", "audio, video or an image (RIFF)"), (b"\xd0\xcf\x11\xe0", "an old Office file"),
          (b"SQLite format 3", "an SQLite database"), (b"BZh", "bzip2-compressed data"),
          (b"\xfd7zXZ", "xz-compressed data"), (b"7z\xbc\xaf", "a 7-Zip archive")]
_DECLARED = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)"""
                       rb"""|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def decode(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding used): by byte-order mark, else UTF-8, else the charset the page declares,
    else the best guess of charset-normalizer. Binary data is refused with what it looks like."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise LoadError(f"{name}: starts with a {encoding} byte-order mark but is not "
                                f"{encoding} ({exc.reason} at byte {exc.start})") from exc
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise LoadError(f"{name}: {what}, not text; save it as text, HTML, JSON, PDF or "
                            "DOCX first")
    if b"\x00" in data:
        raise LoadError(f"{name}: binary data, not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = _DECLARED.search(data[:8192])
    if declared:
        label = (declared.group(1) or declared.group(2)).decode("ascii").lower()
        try:
            return data.decode(codecs.lookup(label).name), label
        except (LookupError, UnicodeDecodeError):
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError(f"{name}: not text in any known encoding")
    return str(best), best.encoding


# formats -----------------------------------------------------------------------------------------
_HTML_START = re.compile(r"(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html|head|body)\b",
                         re.IGNORECASE | re.DOTALL)
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def looks_like_html(text: str) -> bool:
    """A saved web page, whatever its name: a doctype, <html>, <head> or <body> first (after
    whitespace, comments such as "<!-- saved from url=... -->" and an XML declaration)."""
    return _HTML_START.match(text[:65536]) is not None


def _title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return fallback


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def from_text(text: str, name: str) -> NewDocument:
    """Plain text or Markdown; YAML front matter (title, date/published, url) is read and not
    stored as text."""
    meta: dict[str, Any] = {}
    front = _FRONT_MATTER.match(text)
    if front:
        import yaml

        try:
            parsed = yaml.safe_load(front.group(1))
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, dict):
            meta, text = parsed, text[front.end():]
    published = meta.get("published", meta.get("date"))
    if published is not None and not isinstance(published, str):
        published = str(published)  # YAML reads an unquoted 2024-03-05 as a date
    try:
        date = published_field(published, name) if published else dateline_date(text)
    except DateError as exc:
        raise LoadError(str(exc)) from exc
    title = _text(meta.get("title")) or _title_from_text(text, Path(name).stem)
    return NewDocument(title=title, text=text, url=_text(meta.get("url") or meta.get("link")),
                       published=date, source=name, key=_text(meta.get("key")))


_NOISE = ("//template | //amp-ad | //amp-embed | //amp-sticky-ad | //amp-auto-ads | //noscript"
          " | //*[@aria-hidden='true']")
_AD_CLASSES = {"ad", "ads", "advert", "advertisement", "ad-slot", "ad-container", "ad-wrapper",
               "adsbygoogle", "sponsored"}
_BLOCKS = {"article", "section", "div", "li", "main", "body", "header", "aside"}


def _clean_tree(tree: Any) -> None:
    """Drop what a page shows only to machines or as ads, and keep a live blog's time stamps
    (a <time> standing between paragraphs becomes one)."""
    for el in tree.xpath(_NOISE):
        if el.getparent() is not None:
            el.drop_tree()
    for el in tree.xpath("//*[@class or @id]"):
        tokens = set((el.get("class") or "").lower().split()) | {(el.get("id") or "").lower()}
        if tokens & _AD_CLASSES and el.getparent() is not None:
            el.drop_tree()
    for el in tree.iter("time"):
        parent = el.getparent()
        if parent is not None and parent.tag in _BLOCKS and el.text_content().strip():
            el.tag = "p"


def _headline(tree: Any) -> str | None:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue
        for node in data if isinstance(data, list) else [data]:
            if isinstance(node, dict) and _text(node.get("headline")):
                return str(node["headline"]).strip()
    h1 = tree.xpath("//h1")
    return _text(" ".join(h1[0].text_content().split())) if h1 else None


def from_html(html: str, name: str) -> NewDocument:
    """The article text of a news page (boilerplate, menus, ads and comments removed), its
    headline, URL and the publication date it declares (never one guessed from the text)."""
    import lxml.html
    import trafilatura
    from lxml.etree import ParserError

    try:
        tree = lxml.html.document_fromstring(html)
    except (ParserError, ValueError) as exc:
        raise LoadError(f"{name}: not readable HTML ({exc})") from exc
    published = html_published(tree)
    headline = _headline(tree)
    _clean_tree(tree)
    figure_captions = _figure_captions(tree)
    cleaned = lxml.html.tostring(tree, encoding="unicode")
    text = trafilatura.extract(cleaned, include_comments=False, include_tables=False)
    if not text or not text.strip():
        raise LoadError(f"{name}: no article text found in the HTML")
    # The extractor leaves figure captions out; they follow the article, each on its line,
    # known as captions (searched apart from the report, qa/structure.py).
    captions = []
    for caption in figure_captions:
        if caption not in text:
            text = text.rstrip("\n") + "\n\n"
            captions.append((len(text), len(text) + len(caption)))
            text += caption
    meta = trafilatura.extract_metadata(cleaned)
    title = meta.title if meta and meta.title else None
    site = meta.sitename if meta and meta.sitename else None
    if not title or (site and title.strip().lower() == site.strip().lower()):
        title = headline or title
    return NewDocument(
        title=title or _title_from_text(text, name),
        text=text,
        url=meta.url if meta and meta.url else None,
        published=published or dateline_date(text),
        source=name,
        captions=tuple(captions) or None,
    )


def _figure_captions(tree: Any) -> list[str]:
    """The text of each distinct `<figcaption>` of a page, white space collapsed."""
    found: list[str] = []
    for el in tree.iter("figcaption"):
        caption = " ".join(el.text_content().split())
        if caption and caption not in found:
            found.append(caption)
    return found


def from_record(record: object, name: str) -> NewDocument:
    """A JSON record {"text", "title"?, "url"?, "published"?}; a wrong type is an error naming
    the record, never coerced."""
    if not isinstance(record, dict):
        raise LoadError(f"{name}: a record must be an object, got {type(record).__name__}")
    for key, required in (("text", True), ("title", False), ("url", False), ("key", False)):
        value = record.get(key)
        if (value is None and required) or (value is not None and not isinstance(value, str)):
            got = "nothing" if value is None else type(value).__name__
            raise LoadError(f"{name}: '{key}' must be a string, got {got}")
    text = record["text"]
    try:
        published = published_field(record.get("published"), name)
    except DateError as exc:
        raise LoadError(str(exc)) from exc
    return NewDocument(
        title=_text(record.get("title")) or _title_from_text(text, name),
        text=text,
        url=_text(record.get("url")),
        published=published,
        source=name,
        key=_text(record.get("key")),
    )


def _page_text(text: str) -> str:
    """One extracted page or paragraph as it will be stored (qa.text's normalisation applied
    here, so that the page ranges computed from it stay true)."""
    return clean_text(text.replace("\x00", "")).strip()


def from_pdf(data: bytes, name: str) -> NewDocument:
    """A PDF's text layer, page by page (pages joined by a blank line; `pages` holds each
    page's character range, empty for a page without text). A PDF without any text (a scan)
    or one that cannot be opened is refused by name."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{name}: an encrypted PDF (a password is needed to read it)")
        texts = [_page_text(page.extract_text() or "") for page in reader.pages]
        title = _text(reader.metadata.title) if reader.metadata else None
    except LoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise LoadError(f"{name}: not a readable PDF ({exc})") from exc
    text, pages = _join_pages(texts)
    if not text.strip():
        raise LoadError(f"{name}: a PDF without a text layer (a scan?); run OCR on it first")
    return NewDocument(title=title or _title_from_text(text, Path(name).stem), text=text,
                       published=dateline_date(text), source=name, pages=pages)


def _join_pages(texts: list[str]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The pages' texts joined by PAGE_SEPARATOR, and each page's (start, end) in the result."""
    pages: list[tuple[int, int]] = []
    at = 0
    for i, page in enumerate(texts):
        if i:
            at += len(PAGE_SEPARATOR)
        pages.append((at, at + len(page)))
        at += len(page)
    return PAGE_SEPARATOR.join(texts), tuple(pages)


def from_docx(data: bytes, name: str) -> NewDocument:
    """A Word (.docx) document's paragraphs, one a line; its title from the document's
    properties, else its first line."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise LoadError(f"{name}: not a readable DOCX file ({exc})") from exc
    lines = [line for p in document.paragraphs if (line := _page_text(p.text))]
    text = "\n".join(lines)
    if not text:
        raise LoadError(f"{name}: a DOCX file without text")
    title = _text(document.core_properties.title)
    return NewDocument(title=title or _title_from_text(text, Path(name).stem), text=text,
                       published=dateline_date(text), source=name)


def _is_docx(data: bytes) -> bool:
    """A ZIP archive holding word/document.xml: a Word document, whatever its name."""
    import zipfile

    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def read_documents(data: bytes, name: str) -> tuple[list[NewDocument], list[LoadError], str]:
    """Documents in one file's contents, the problems of its bad records (a JSONL line that is
    not JSON costs only that line) and the encoding it was decoded with ("pdf" or "docx" for
    those, which are not decoded as text). PDF and DOCX are told
    by their content, HTML by the suffix of `name` or the content, the rest by the suffix;
    other binary data is refused by name. A problem with the whole file raises."""
    if data.startswith(b"%PDF-"):
        return [from_pdf(data, name)], [], "pdf"
    if _is_docx(data):
        return [from_docx(data, name)], [], "docx"
    suffix = Path(name).suffix.lower()
    text, encoding = decode(data, name)  # other binary data is refused here, saying what it is
    if suffix in BINARY_SUFFIXES:
        raise LoadError(f"{name}: not a {suffix[1:].upper()} file (its content is text)")
    if suffix in HTML_SUFFIXES or (suffix not in JSON_SUFFIXES and looks_like_html(text)):
        return [from_html(text, name)], [], encoding
    if suffix == ".json":
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LoadError(f"{name}: invalid JSON ({exc.msg}, line {exc.lineno})") from exc
        records = parsed if isinstance(parsed, list) else [parsed]
        docs, problems = _records((f"{name}[{i}]", r) for i, r in enumerate(records))
        return docs, problems, encoding
    if suffix in {".jsonl", ".ndjson"}:
        docs, problems = _records(_json_lines(text, name))
        return docs, problems, encoding
    return [from_text(text, name)], [], encoding


def _json_lines(text: str, name: str) -> Iterator[tuple[str, object]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            where = f"{name}:{lineno}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                yield where, LoadError(f"{where}: invalid JSON ({exc.msg})")


def _records(items: Iterator[tuple[str, object]]) -> tuple[list[NewDocument], list[LoadError]]:
    docs: list[NewDocument] = []
    problems: list[LoadError] = []
    for where, record in items:
        if isinstance(record, LoadError):
            problems.append(record)
            continue
        try:
            docs.append(from_record(record, where))
        except LoadError as exc:
            problems.append(exc)
    return docs, problems


def load_bytes(data: bytes, name: str) -> list[NewDocument]:
    """Documents in one file's contents; raises LoadError on the first problem (the API's
    single upload, where a partial result would be a surprise)."""
    docs, problems, _ = read_documents(data, name)
    if problems:
        raise problems[0]
    return docs


def load_paths(paths: list[Path], max_bytes: int | None = None) -> LoadReport:
    """Every document under `paths`; each file, record or entry that cannot be read is a
    problem in the report, and the rest are loaded."""
    report = LoadReport()
    for item in iter_files(paths):
        if isinstance(item, LoadError):
            report.problems.append(item)
            continue
        try:
            docs, problems, encoding = read_documents(read_file(item, max_bytes), str(item))
        except LoadError as exc:
            report.problems.append(exc)
            continue
        if encoding not in ("utf-8", "utf-8-sig", "ascii", "pdf", "docx"):
            report.notes.append(f"{item}: decoded as {encoding}")
        if len(docs) == 1 and item.suffix.lower() not in JSON_SUFFIXES and not docs[0].story_key:
            # A local article file is its own story: ingesting it again after an edit makes
            # a new version, not a second article.
            docs = [replace(docs[0], key=str(item.resolve()))]
        report.documents.extend(docs)
        report.problems.extend(problems)
    return report
