"""A generated corpus of messy and hostile inputs through the CLI and the API: every input is
refused with one line naming it, or stored so that every citation of every question quotes the
stored text exactly; no traceback, no 5xx. Plus property tests of normalisation and offsets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embeddings.splitter import MAX_PARSE_CHARS, PassageSplitter, cut, split_sentences
from qa.cli import main as qa_main
from qa.text import TextError, clean_text

BODY = ("The city council approved the new Harwick bridge on Monday. The bridge will cost 45 "
        "million dollars, the mayor said. Work starts in the spring.")


def messy_corpus(folder: Path) -> dict[str, str | None]:
    """Write the corpus; returns file name -> the problem expected (None: stored)."""
    files: dict[str, tuple[bytes, str | None]] = {
        "tags.txt": (f"Tagged bridge\n{BODY}\nTags: ".encode()
                     + ", ".join(f"word{i}" for i in range(5000)).encode(), None),
        "run.txt": (("Run of words\n" + " ".join(["bridge"] * 5000)).encode(), None),
        "utf16.txt": (f"Bridge in UTF-16\n\n{BODY}".encode("utf-16"), None),
        "cp1252.txt": (f"Brücke – Zürich\n\n{BODY} “Schön”, said the mayor.".encode("cp1252"), None),
        "saved.txt": ((f"<!-- saved from url=(0030)https://ledger.example/ -->\n<html><head><title>"
                       f"Bridge page</title></head><body><article><h1>Bridge page</h1><p>{BODY}</p>"
                       f"<p>{BODY}</p></article></body></html>").encode(), None),
        "front.md": (f"---\ntitle: Front matter bridge\ndate: 2024-03-05\n---\n\n{BODY}".encode(), None),
        "zw.txt": ("Zero width\n\nThe bridge will cost 45\u200b million dollars.\u202e".encode(), None),
        "records.jsonl": ("\n".join([
            json.dumps({"title": "Good record", "text": BODY}),
            "{broken",
            json.dumps({"title": 0, "text": BODY}),
            '{"title": "Sur\\ud800rogate", "text": "Surrogate \\udc00 bridge story. ' + BODY + '"}',
            json.dumps({"title": "Bad date", "text": BODY, "published": "yesterday"}),
        ]).encode(), None),
        "nul.txt": (f"Nul\n\n{BODY}\x00\x00".encode(), "binary data"),
        "invisible.txt": ("\u200b\u2060\n\u200b".encode(), "empty"),
        "report.txt": (b"%PDF-1.4\n1 0 obj << >> endobj\nBT (The ministers met in Geneva.) Tj ET",
                       "not a readable PDF"),
        "image.md": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    (folder / "loop").symlink_to(folder)
    (folder / "dangling.txt").symlink_to(folder / "nowhere.txt")
    (folder / "photos.md").mkdir()
    expected = {name: problem for name, (_, problem) in files.items()}
    expected |= {"loop": "link loop", "dangling.txt": "dangling link",
                 "records.jsonl:2": "invalid JSON", "records.jsonl:3": "'title' must be a string",
                 "records.jsonl:5": "is not a date"}
    return expected


@pytest.fixture(scope="module")
def ingested(api_env: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[TestClient, str, dict[str, str | None]]]:
    from api.app import create_app

    folder = tmp_path_factory.mktemp("messy")
    expected = messy_corpus(folder)
    with TestClient(create_app()) as client:
        yield client, str(folder), expected


def test_cli_ingests_what_it_can_and_names_each_problem(
        ingested: tuple[TestClient, str, dict[str, str | None]],
        capsys: pytest.CaptureFixture[str]) -> None:
    client, folder, expected = ingested
    assert qa_main(["ingest", folder]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    for name, problem in expected.items():
        if problem is not None:
            assert any(f"{name}: " in e and problem in e for e in errors), (name, errors)
    assert len(errors) == sum(p is not None for p in expected.values())
    added = [line.split("\t")[3] for line in out.splitlines() if line.startswith("added")]
    assert {"Tagged bridge", "Run of words", "Bridge in UTF-16", "Brücke – Zürich", "Bridge page",
            "Front matter bridge", "Zero width", "Good record", "Sur\ufffdrogate"} <= set(added)
    assert "decoded as" in err


def test_every_citation_of_every_stored_document_is_exact(
        ingested: tuple[TestClient, str, dict[str, str | None]]) -> None:
    client, _, _ = ingested
    documents = client.get("/v1/documents").json()
    assert len(documents) >= 9
    limit = 1000
    for d in documents:
        text = client.get(f"/v1/documents/{d['id']}").json()["text"]
        assert "\x00" not in text and "\u200b" not in text and "\r" not in text
        for question in ("How much will the bridge cost?", "When does work start?"):
            r = client.post("/v1/ask", json={"question": question, "document_ids": [d["id"]]})
            assert r.status_code == 200, r.text
            body = r.json()
            for c in body["citations"]:
                assert text[c["start"] : c["end"]] == c["quote"]
                if c["answer_start"] is not None:
                    assert text[c["answer_start"] : c["answer_end"]] == body["answer"]
            for p in body["passages"]:
                assert text[p["start"] : p["end"]] == p["text"] and p["end"] - p["start"] <= limit


# properties --------------------------------------------------------------------------------------
MESSY_CHARS = st.characters(codec="utf-8", categories=("L", "N", "P", "Z", "S", "Cc", "Cf"))
MESSY_TEXT = st.lists(st.one_of(MESSY_CHARS, st.sampled_from(
    ["\r\n", "\n", " ", ". ", "\u200b", "\ufeff", "\u202e", "\t", "\x0c", "\u2028"])),
    max_size=400).map("".join)


@given(MESSY_TEXT)
def test_clean_text_is_idempotent_and_leaves_nothing_invisible(text: str) -> None:
    try:
        cleaned = clean_text(text)
    except TextError:
        assert "\x00" in text
        return
    assert clean_text(cleaned) == cleaned
    assert not set(cleaned) & set("\r\x0b\x0c\u200b\ufeff\u202e\u2028\x85\x7f")
    assert all(c in "\t\n" or ord(c) >= 0x20 for c in cleaned)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSY_TEXT.filter(lambda t: "\x00" not in t), st.integers(min_value=40, max_value=400))
def test_passages_and_sentences_are_bounded_spans_of_the_text(text: str, max_chars: int) -> None:
    text = clean_text(text)
    passages = PassageSplitter(4, 1, max_chars).split(text)
    for p in passages:
        assert 0 <= p.start < p.end <= len(text) and p.end - p.start <= max_chars
        quote = text[p.start : p.end]
        assert quote == quote.strip()
        for s in p.sentences:
            assert p.start <= s.start < s.end <= p.end and s.end - s.start <= max_chars
    covered = "".join(text[s.start : s.end] for s in split_sentences(text, max_chars))
    assert "".join(covered.split()) == "".join(text.split())


@given(st.text(alphabet=st.sampled_from("ab ,.\n"), max_size=3000), st.integers(5, 200))
def test_cut_keeps_every_character_in_order(text: str, limit: int) -> None:
    pieces = cut(text, 0, len(text), limit)
    assert all(p.end - p.start <= limit for p in pieces)
    assert "".join("".join(text[p.start : p.end].split()) for p in pieces) == "".join(text.split())


def test_a_line_longer_than_spacy_accepts_is_split_not_refused() -> None:
    text = "x" * 1_200_000  # one line, one "word": spaCy alone refuses more than 1,000,000
    assert len(text) > 1_000_000 > MAX_PARSE_CHARS
    spans = split_sentences(text)
    assert spans and max(s.end - s.start for s in spans) <= 1000 and spans[-1].end == len(text)
