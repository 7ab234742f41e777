import json
from pathlib import Path

import pytest

from qa.loaders import LoadError, load_bytes, load_paths

ARTICLE_HTML = """<!DOCTYPE html><html><head><title>Storm hits coast | Daily News</title>
<meta property="og:url" content="https://news.example/storm">
<meta name="date" content="2024-05-02"></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | Subscribe now!</nav>
<article><h1>Storm hits coast</h1>
<p>A powerful storm struck the northern coast on Thursday, forcing thousands of residents to leave
their homes as rivers overflowed and roads were closed across the region.</p>
<p>Emergency services said the town of Harwick was the worst affected, with more than 200 houses
flooded by the morning and power cut to much of the district for several hours.</p>
<p>The regional governor, Maria Lopez, said army units had been sent to help with evacuation and
that temporary shelters had been opened in three schools.</p>
</article><footer>Copyright Daily News. Cookie settings. Advertise with us.</footer></body></html>"""


def test_text_and_markdown_titles() -> None:
    doc = load_bytes(b"Storm hits coast\n\nA storm struck.", "a.txt")[0]
    assert doc.title == "Storm hits coast" and doc.text.endswith("struck.")
    md = load_bytes(b"# Big news\n\nSomething happened.", "b.md")[0]
    assert md.title == "Big news"


def test_html_is_reduced_to_article_text() -> None:
    doc = load_bytes(ARTICLE_HTML.encode(), "storm.html")[0]
    assert "Harwick" in doc.text and "Maria Lopez" in doc.text
    assert "Subscribe" not in doc.text and "Cookie" not in doc.text and "<p>" not in doc.text
    assert "Storm hits coast" in doc.title
    assert doc.published and doc.published.startswith("2024-05-02")


def test_json_and_jsonl_records() -> None:
    records = [{"title": "One", "text": "First text.", "url": "http://x", "published": "2020-01-01"},
               {"title": "Two", "text": "Second text."}]
    docs = load_bytes(json.dumps(records).encode(), "a.json")
    assert [d.title for d in docs] == ["One", "Two"] and docs[0].published == "2020-01-01"
    jsonl = "\n".join(json.dumps(r) for r in records).encode()
    assert [d.text for d in load_bytes(jsonl, "a.jsonl")] == ["First text.", "Second text."]


def test_folders_are_walked(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("Alpha\n\nAlpha text.")
    (tmp_path / "sub" / "b.md").write_text("# Beta\n\nBeta text.")
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    assert [d.title for d in load_paths([tmp_path]).documents] == ["Alpha", "Beta"]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"%PDF-1.4\n1 0 obj", "x.txt", "x.txt: not a readable PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.txt", "a PNG image"),
        (b"ab\x00cd", "x.txt", "binary data"),
        (b"{not json", "x.json", "invalid JSON"),
        (b'[{"title": "no text"}]', "x.json", "'text'"),
        (b"<html><body></body></html>", "x.html", "no article text"),
    ],
)
def test_bad_files_fail_clearly(data: bytes, name: str, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        load_bytes(data, name)


def test_missing_path_fails_clearly(tmp_path: Path) -> None:
    report = load_paths([tmp_path / "nope.txt"])
    assert not report.documents and "no such file" in str(report.problems[0])
