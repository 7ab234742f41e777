"""Hostile and messy requests through the real app (models, index, SQLite): each is refused
with a JSON error naming the problem, or stored so that every citation is exact; never a 5xx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ("The city council approved the new Harwick bridge on Monday after a long debate.\n"
           "The bridge will cost 45 million dollars, the mayor said.\n"
           "Engineers expect the work to start in the spring.")


@pytest.fixture(scope="module")
def client(api_env: Path, sample_text: str) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app()) as c:
        assert c.post("/v1/documents", json={"title": "Report: Hamas leader met with top Iran "
                                             "commander", "text": sample_text}).status_code == 201
        yield c


def exact_citations(client: TestClient, body: dict) -> None:
    """Every citation and passage quotes the stored text at its offsets."""
    texts: dict[str, str] = {}
    for c in body["citations"]:
        text = texts.setdefault(c["document_id"],
                                client.get(f"/v1/documents/{c['document_id']}").json()["text"])
        assert text[c["start"] : c["end"]] == c["quote"]
        if c["answer_start"] is not None:
            assert text[c["answer_start"] : c["answer_end"]] == body["answer"]
    for p in body["passages"]:
        text = texts.setdefault(p["document_id"],
                                client.get(f"/v1/documents/{p['document_id']}").json()["text"])
        assert text[p["start"] : p["end"]] == p["text"]


def raw_json(client: TestClient, path: str, body: str, **headers: str) -> object:
    return client.post(path, content=body.encode("utf-8"),
                       headers={"content-type": "application/json", **headers})


# text normalisation at the edge ----------------------------------------------------------------
def test_nul_in_json_text_is_refused_like_a_binary_file(client: TestClient) -> None:
    r = client.post("/v1/documents", json={"title": "Nul", "text": ARTICLE + "\x00\x00 more"})
    assert r.status_code == 422 and "binary data" in r.json()["error"]
    f = client.post("/v1/documents", files={"file": ("nul.txt", (ARTICLE + "\x00").encode())})
    assert f.status_code == 400 and "binary data" in f.json()["error"]


def test_lone_surrogates_are_cleaned_not_500(client: TestClient) -> None:
    asked = raw_json(client, "/v1/ask", '{"question": "where \\ud800 did they meet?"}')
    assert asked.status_code == 200 and asked.json()["answer"]  # type: ignore[attr-defined]
    added = raw_json(client, "/v1/documents",
                     '{"title": "Sur\\udc00rogate", "text": "Harwick \\ud800 bridge news.\\nMore."}')
    assert added.status_code == 201, added.text  # type: ignore[attr-defined]
    doc = client.get(f"/v1/documents/{added.json()['id']}").json()  # type: ignore[attr-defined]
    assert doc["text"].startswith("Harwick \ufffd bridge") and doc["title"] == "Sur\ufffdrogate"


def test_the_same_article_gets_one_id_by_every_route(client: TestClient) -> None:
    crlf = "\ufeff" + ARTICLE.replace("\n", "\r\n").replace("45", "45\u200b")
    by_json = client.post("/v1/documents", json={"title": "Bridge", "text": crlf})
    by_file = client.post("/v1/documents", files={"file": ("bridge.txt", ARTICLE.encode())})
    assert by_json.status_code == 201 and by_file.status_code == 200
    assert by_json.json()["id"] == by_file.json()["id"]
    stored = client.get(f"/v1/documents/{by_json.json()['id']}").json()["text"]
    assert stored == ARTICLE
    answer = client.post("/v1/ask", json={"question": "How much will the Harwick bridge cost?",
                                          "document_ids": [by_json.json()["id"]]}).json()
    assert "\u200b" not in (answer["answer"] or "")
    exact_citations(client, answer)


def test_invisible_only_text_is_empty(client: TestClient) -> None:
    r = client.post("/v1/documents", files={"file": ("zw.txt", "\u200b\u200b\u2060\n".encode())})
    assert r.status_code == 422 and "empty" in r.json()["error"]


# pathological documents: bounded cost, exact citations -----------------------------------------
def test_a_tag_line_keeps_questions_bounded(client: TestClient) -> None:
    # 5,000 tags (the reported case had 20,000: `qa bench --pathological` runs that size)
    text = ARTICLE + "\nTags: " + ", ".join(f"word{i}" for i in range(5000))
    added = client.post("/v1/documents", json={"title": "Tagged bridge story", "text": text})
    assert added.status_code == 201
    doc_id = added.json()["id"]
    limit = get_settings().passage_max_chars
    r = client.post("/v1/ask", json={"question": "How much will the bridge cost?",
                                     "document_ids": [doc_id], "top_k": 10})
    body = r.json()
    assert r.status_code == 200 and body["passages"]
    assert all(p["end"] - p["start"] <= limit for p in body["passages"])
    exact_citations(client, body)


# dates -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("published", ["yesterday", "08/10/2023", "2024-13-01"])
def test_unclear_publication_dates_are_422(client: TestClient, published: str) -> None:
    r = client.post("/v1/documents", json={"title": "T", "text": ARTICLE, "published": published})
    assert r.status_code == 422 and "error" in r.json()


def test_publication_dates_are_stored_as_iso(client: TestClient) -> None:
    r = client.post("/v1/documents", json={"title": "Dated", "text": ARTICLE + " Dated.",
                                           "published": "2024-03-05T10:00:00+02:00"})
    assert client.get(f"/v1/documents/{r.json()['id']}").json()["published"] == "2024-03-05"
    bad = client.post("/v1/ask", json={"question": "where?", "published_from": "last week"})
    assert bad.status_code == 422


# limits, content types and origins ---------------------------------------------------------------
def test_too_many_document_ids_is_422(client: TestClient) -> None:
    ids = [f"d{i}" for i in range(get_settings().max_document_ids + 1)]
    r = client.post("/v1/ask", json={"question": "where did they meet?", "document_ids": ids})
    assert r.status_code == 422 and "error" in r.json()
    ok = client.post("/v1/ask", json={"question": "where did they meet?", "document_ids": ids[:-1]})
    assert ok.status_code == 200


def test_bodies_over_the_limit_are_413_declared_or_streamed(client: TestClient) -> None:
    big = json.dumps({"question": "where?", "document_ids": ["x" * 100] * 5000})
    assert len(big) > get_settings().max_request_bytes
    r = raw_json(client, "/v1/ask", big)
    assert r.status_code == 413 and "error" in r.json()  # type: ignore[attr-defined]

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        data = big.encode()
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    streamed = client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "larger than" in streamed.json()["error"]


@pytest.mark.parametrize(("path", "content_type"), [
    ("/v1/documents", "text/plain"), ("/v1/ask", "text/plain"),
    ("/v1/ask", "application/x-www-form-urlencoded"), ("/v1/ask/stream", "text/plain"),
    ("/v1/ask", "multipart/form-data; boundary=x"),
])
def test_form_and_text_bodies_are_415(client: TestClient, path: str, content_type: str) -> None:
    body = '{"title": "Planted", "text": "The meeting was in Paris.", "question": "where?"}'
    r = client.post(path, content=body.encode(), headers={"content-type": content_type})
    assert r.status_code == 415 and "Content-Type" in r.json()["error"]


def test_cross_site_writes_are_refused(client: TestClient) -> None:
    doc = {"title": "Planted", "text": "The meeting took place in Paris, officials said."}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null"}):
        r = client.post("/v1/documents", json=doc, headers=headers)
        assert r.status_code == 403 and "cross-site" in r.json()["error"]
    same = client.post("/v1/ask", json={"question": "where did they meet?"},
                       headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


# the error contract ------------------------------------------------------------------------------
def test_every_error_has_the_json_error_shape(client: TestClient) -> None:
    assert set(client.get("/no/such/route").json()) == {"error"}
    r = client.delete("/v1/documents")
    assert r.status_code == 405 and "error" in r.json()
    assert r.headers["allow"] == "GET, POST"
    multipart = client.post("/v1/documents", content=b"--x\r\nbroken",
                            headers={"content-type": "multipart/form-data; boundary=x"})
    assert multipart.status_code in (400, 422) and "error" in multipart.json()
    undecodable = client.post("/v1/ask", content=b"\xff\xfe\x00{",
                              headers={"content-type": "application/json"})
    assert undecodable.status_code == 400 and "error" in undecodable.json()


def test_openapi_states_what_the_server_enforces(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["AskIn"]["properties"]["question"]["minLength"] == 1
    post = spec["paths"]["/v1/documents"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["text"]["minLength"] == 1
    add = post["responses"]
    assert {"200", "201", "413", "415"} <= set(add)


# a second process ----------------------------------------------------------------------------
def test_a_running_server_sees_another_process_add_and_delete(client: TestClient, api_env: Path,
                                                               tmp_path: Path) -> None:
    before = client.get("/healthz").json()
    assert before["passages"] == before["indexed_passages"]
    article = tmp_path / "ferry.txt"
    article.write_text("Ferry strike ends\n\nThe Ostrava ferry strike ended on Friday after "
                       "dockworkers accepted a seven percent pay rise.\n")
    env = {**os.environ, "QA_DATA_DIR": str(api_env)}
    done = subprocess.run([sys.executable, "-m", "qa.cli", "ingest", str(article)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc_id = done.stdout.split("\t")[1]
    answer = client.post("/v1/ask", json={"question": "How much was the dockworkers' pay rise?"}).json()
    assert answer["answer"] and "seven percent" in answer["answer"]
    after = client.get("/healthz").json()
    assert after["passages"] == after["indexed_passages"] > before["indexed_passages"]
    gone = subprocess.run([sys.executable, "-m", "qa.cli", "documents", "--delete", doc_id],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert gone.returncode == 0, gone.stderr
    assert "disagrees" not in gone.stderr  # the delete itself left index and store agreeing
    final = client.get("/healthz").json()
    assert final["passages"] == final["indexed_passages"] == before["indexed_passages"]


def test_a_follow_up_streams_its_rewriting_stage(client: TestClient) -> None:
    first = client.post("/v1/ask", json={"question": "Who did Khaled Mashaal meet?"}).json()
    stream = client.post("/v1/ask/stream", json={"question": "Where?",
                                                 "conversation_id": first["conversation_id"]})
    stages = [json.loads(block.split("data: ", 1)[1])["stage"]
              for block in stream.text.split("\n\n") if block.startswith("event: stage")]
    assert stages == ["rewriting", "searching", "reading"]
    fresh = client.post("/v1/ask/stream", json={"question": "Where did they meet?"})
    assert "rewriting" not in fresh.text


def test_repeated_closest_sentences_are_cited_once() -> None:
    from qa.compose import distinct_citations
    from qa.types import Citation

    caption = "Hamas chief Khaled Mashaal in Doha. (AFP)"
    cites = [Citation("d", "T", 1, 0, 41, caption, None, None),
             Citation("d", "T", 2, 42, 83, caption, None, None),
             Citation("d", "T", 3, 90, 120, "Another sentence entirely.", None, None)]
    assert [c.passage_id for c in distinct_citations(cites)] == [1, 3]


def test_one_size_rule_for_a_big_page_with_a_small_article(client: TestClient, tmp_path: Path) -> None:
    """A 6 MB saved page whose article is short: the body is under QA_MAX_UPLOAD_BYTES and the
    extracted text under QA_MAX_DOCUMENT_BYTES, so the API and the CLI both take it."""
    from qa.loaders import load_paths

    padding = "<script>var x = '" + "a" * 6_000_000 + "';</script>"
    html = (f"<html><head><title>Big page</title>{padding}</head><body><article><h1>Big page</h1>"
            f"<p>{ARTICLE}</p><p>{ARTICLE}</p></article></body></html>").encode()
    assert get_settings().max_document_bytes < len(html) < get_settings().max_upload_bytes
    r = client.post("/v1/documents", files={"file": ("big.html", html, "text/html")})
    assert r.status_code in (200, 201), r.text
    (tmp_path / "big.html").write_bytes(html)
    report = load_paths([tmp_path / "big.html"], get_settings().max_upload_bytes)
    assert not report.problems and "Harwick bridge" in report.documents[0].text


def test_bulk_adds_the_good_records_and_reports_each_bad_one(client: TestClient) -> None:
    lines = [json.dumps({"title": "Ferry one", "text": "The ferry left at noon on Monday."}),
             "{broken",
             json.dumps({"title": "Ferry two", "text": "The second ferry was cancelled."}),
             json.dumps({"title": "Empty", "text": "\u200b"})]
    r = client.post("/v1/documents:bulk",
                    files={"file": ("day.jsonl", "\n".join(lines).encode(), "application/x-ndjson")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["added"], body["failed"]) == (2, 2)
    by_record = {x["record"]: x for x in body["results"]}
    assert by_record["day.jsonl:2"]["error"].startswith("invalid JSON")
    assert "empty" in by_record["day.jsonl:4"]["error"] and by_record["day.jsonl:1"]["id"]
    as_json = client.post("/v1/documents:bulk", json={"documents": [
        {"title": "Ferry one", "text": "The ferry left at noon on Monday."},
        {"title": "Ferry three", "text": "A third ferry sailed on Tuesday."}]}).json()
    assert (as_json["added"], as_json["unchanged"], as_json["failed"]) == (1, 1, 0)
    two = "\n".join([lines[0], lines[2]]).encode()
    single = client.post("/v1/documents", files={"file": ("day.jsonl", two)})
    assert single.status_code == 422 and "/v1/documents:bulk" in single.json()["error"]
