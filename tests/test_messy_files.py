"""Messy and hostile files, read without models: encodings, disguised HTML, page noise, dates
that must not be invented, wrong JSON types, and folders with odd entries."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa.dates import DateError, parse_date
from qa.loaders import LoadError, load_bytes, load_paths, looks_like_html, read_documents

BODY = ("The city council approved the new bridge on Monday after a long debate. The bridge will "
        "cost 45 million dollars and open in 2027, the mayor said. Engineers expect the work to "
        "start in the spring, and two lanes of traffic will stay open throughout.")


def page(head: str = "", body: str = "", title: str = "Council approves bridge | Ledger") -> str:
    return (f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head><body>"
            f"<article><h1>Council approves bridge</h1><p>{BODY}</p>{body}</article></body></html>")


# encodings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "encoding"), [
    ("Café news\n\nThe café reopened.".encode("utf-16"), "utf-16"),
    ("Café news\n\nThe café reopened — said “Anna”.".encode("cp1252"), None),
    ("Café news\n\nLe café a rouvert à Zürich, où les élèves étaient.".encode("latin-1"), None),
])
def test_text_in_other_encodings_is_decoded(data: bytes, encoding: str | None) -> None:
    docs, problems, used = read_documents(data, "cafe.txt")
    assert not problems and docs[0].title == "Café news" and "café" in docs[0].text
    assert used != "utf-8" and (encoding is None or used == encoding)


def test_declared_charset_of_a_page_is_used() -> None:
    html = page('<meta charset="windows-1252">', "<p>Der Bürgermeister sagte: „Schön“.</p>")
    docs, _, used = read_documents(html.encode("cp1252"), "bridge.html")
    assert used == "windows-1252" and "Bürgermeister" in docs[0].text and "„Schön“" in docs[0].text


def test_folder_report_names_the_encoding(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("Zürich\n\nDie Brücke.".encode("cp1252"))
    report = load_paths([tmp_path])
    assert report.documents[0].title == "Zürich" and "decoded as" in report.notes[0]


# HTML by content -------------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["", "<!-- saved from url=(0042)https://ledger.example/bridge -->\n",
                                    "\ufeff  \n", '<?xml version="1.0"?>\n'])
def test_html_is_recognised_by_content_whatever_the_name(prefix: str) -> None:
    doc = load_bytes((prefix + page()).encode(), "saved-page.txt")[0]
    assert "<" not in doc.text and "bridge will cost" in doc.text
    assert doc.title == "Council approves bridge | Ledger" or doc.title.startswith("Council")


def test_plain_text_mentioning_html_is_not_html() -> None:
    assert not looks_like_html("We wrote <html> in a sentence.\n<html>")
    doc = load_bytes(b"Tags in text\n\nUse <html> to start a page.", "a.txt")[0]
    assert "<html>" in doc.text


def test_page_noise_is_not_article_text() -> None:
    noise = ('<amp-ad width="300" height="250"><div fallback>Advertisement slot could not load'
             '</div></amp-ad><template><p>Template text that never shows on the page.</p></template>'
             '<div class="ad-slot">Buy cheap bridges now, limited offer for readers.</div>')
    doc = load_bytes(page(body=noise).encode(), "amp.html")[0]
    assert "Advertisement" not in doc.text and "Template text" not in doc.text
    assert "cheap bridges" not in doc.text and "bridge will cost" in doc.text


def test_live_blog_time_stamps_are_kept() -> None:
    entries = "".join(f'<time datetime="2024-03-05T{h}:00Z">{h}:00 GMT</time><p>Update {h}: {BODY}</p>'
                      for h in ("10", "11"))
    doc = load_bytes(page(body=entries).encode(), "live.html")[0]
    assert "10:00 GMT" in doc.text and "11:00 GMT" in doc.text


def test_headline_not_the_site_name_without_article_tag() -> None:
    html = (f"<html><head><title>Ledger</title><meta property='og:site_name' content='Ledger'>"
            f"</head><body><header>Ledger</header><main><h1>Council approves bridge</h1>"
            f"<p>{BODY}</p><p>{BODY}</p></main></body></html>")
    assert load_bytes(html.encode(), "x.html")[0].title == "Council approves bridge"


def test_markdown_front_matter_is_metadata_not_text() -> None:
    md = f"---\ntitle: Bridge approved\ndate: 2024-03-05\nurl: https://ledger.example/b\n---\n\n{BODY}"
    doc = load_bytes(md.encode(), "bridge.md")[0]
    assert doc.title == "Bridge approved" and doc.published == "2024-03-05"
    assert doc.url == "https://ledger.example/b" and doc.text.lstrip().startswith("The city council")


# dates -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [
    "<figure><img src=a.jpg><figcaption>The old bridge, pictured in 1998.</figcaption></figure>",
    "<footer>Copyright 2024 Ledger Media</footer>",
    "<p>The ferry service closed in 2019 and never reopened, residents said.</p>",
])
def test_no_publication_date_is_invented_from_a_year(extra: str) -> None:
    assert load_bytes(page(body=extra).encode(), "x.html")[0].published is None


@pytest.mark.parametrize(("head", "body"), [
    ('<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": '
     '"2024-03-05T09:30:00+01:00"}</script>', ""),
    ('<meta property="article:published_time" content="2024-03-05T09:30:00Z">', ""),
    ("", '<time datetime="2024-03-05" pubdate>5 March 2024</time>'),
])
def test_publication_date_from_page_metadata(head: str, body: str) -> None:
    assert load_bytes(page(head, body).encode(), "x.html")[0].published == "2024-03-05"


def test_dateline_of_plain_text() -> None:
    text = f"Bridge approved\nWASHINGTON, March 5, 2024 —\n{BODY}"
    assert load_bytes(text.encode(), "a.txt")[0].published == "2024-03-05"
    caption = f"Bridge approved\n\n{BODY}\nThe old bridge in the capital of the region, on August 10, 2014."
    assert load_bytes(caption.encode(), "b.txt")[0].published is None


@pytest.mark.parametrize(("value", "expected"), [
    ("2014-10-07", "2014-10-07"), ("2014-10-07T12:00:00Z", "2014-10-07"), ("2014-10", "2014-10"),
    ("7 October 2014", "2014-10-07"), ("Oct. 7, 2014", "2014-10-07"), ("2014", "2014"),
])
def test_dates_parse_to_iso(value: str, expected: str) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "08/10/2023", "2024-13-01", "2023-02-30", "20240305"])
def test_unclear_dates_are_refused(value: str) -> None:
    with pytest.raises(DateError):
        parse_date(value)


# JSON records ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("record", "message"), [
    ({"title": 0, "text": BODY}, "'title' must be a string, got int"),
    ({"title": True, "text": BODY}, "'title' must be a string, got bool"),
    ({"title": "T", "text": BODY, "published": 20240305}, "'published' must be a string"),
    ({"title": "T", "text": BODY, "published": "yesterday"}, "is not a date"),
    ({"title": "T", "text": ["a"]}, "'text' must be a string, got list"),
    (["not", "an", "object"], "must be an object"),
])
def test_wrong_types_are_errors_naming_the_record(record: object, message: str) -> None:
    with pytest.raises(LoadError, match=message) as err:
        load_bytes(json.dumps([{"title": "Fine", "text": BODY}, record]).encode(), "feed.json")
    assert "feed.json[1]" in str(err.value)


def test_one_bad_jsonl_line_costs_only_that_line() -> None:
    lines = [json.dumps({"title": "One", "text": BODY}), "{not json", json.dumps({"title": "Three",
                                                                                    "text": BODY})]
    docs, problems, _ = read_documents("\n".join(lines).encode(), "day.jsonl")
    assert [d.title for d in docs] == ["One", "Three"]
    assert len(problems) == 1 and str(problems[0]).startswith("day.jsonl:2: invalid JSON")


# folders -----------------------------------------------------------------------------------------
def test_odd_folder_entries_are_reported_and_the_rest_loaded(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "good.txt").write_text(f"Good\n\n{BODY}")
    (tmp_path / "loop").symlink_to(tmp_path)  # a folder that contains itself
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "photos.md").mkdir()
    (tmp_path / "photos.md" / "inner.txt").write_text(f"Inner\n\n{BODY}")
    (tmp_path / "secret.txt").write_text("Secret\n\nunreadable")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02")
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:  # root reads any file: simulate a permission error
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = load_paths([tmp_path])
    assert sorted(d.title for d in report.documents) == ["Good", "Inner"]
    messages = sorted(str(p) for p in report.problems)
    assert len(messages) == 4, messages
    assert any("gone.txt: dangling link" in m for m in messages)
    assert any("loop: link loop" in m for m in messages)
    assert any("secret.txt: cannot read (Permission denied)" in m for m in messages)
    assert any("binary.txt: binary data" in m for m in messages)
    assert all("\n" not in m for m in messages)


def test_file_over_the_upload_limit_is_refused_by_name(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("Big\n\n" + "word " * 1000)
    report = load_paths([big], max_bytes=1000)
    assert not report.documents and "big.txt: file is" in str(report.problems[0])


def test_unreadable_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.iterdir

    def iterdir(self: Path):  # type: ignore[no-untyped-def]
        if self == tmp_path:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    report = load_paths([tmp_path])
    assert "cannot list the folder (Permission denied)" in str(report.problems[0])
    assert os.path.isdir(tmp_path)
