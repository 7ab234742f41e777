"""PDF and Word files a newsroom has, made here with real writers (matplotlib's PDF backend,
python-docx): their text, a PDF's pages, citations that name the page, and other binary data
refused by name."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.loaders import LoadError, load_bytes, load_paths
from qa.service import QAService
from qa.settings import Settings

PAGES = [
    ["Harbour council report", "The council met on Monday to discuss the harbour budget.",
     "Members approved the new ferry terminal after a long debate."],
    ["The ferry terminal will cost 31 million euros, the treasurer said.",
     "Construction starts in April and ends in 2027."],
    ["Mayor Ines Duarte thanked the engineers for their work."],
]


def make_pdf(pages: list[list[str]], title: str | None = "Harbour council report") -> bytes:
    """A PDF with one page per list of lines, text as real text (TrueType, extractable)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        with PdfPages(buffer, metadata={"Title": title} if title else {}) as pdf:
            for lines in pages:
                figure = plt.figure(figsize=(8.5, 11))
                for i, line in enumerate(lines):
                    figure.text(0.08, 0.92 - 0.04 * i, line, fontsize=11)
                pdf.savefig(figure)
                plt.close(figure)
    return buffer.getvalue()


def make_docx(paragraphs: list[str], title: str | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if title:
        document.core_properties.title = title
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


# loading, without models ----------------------------------------------------------------------
def test_pdf_text_is_read_page_by_page() -> None:
    doc = load_bytes(make_pdf(PAGES), "report.pdf")[0]
    assert doc.title == "Harbour council report"
    assert doc.pages is not None and len(doc.pages) == 3
    for (start, end), lines in zip(doc.pages, PAGES, strict=True):
        assert doc.text[start:end] == "\n".join(lines)
    assert doc.text == "\n\n".join("\n".join(lines) for lines in PAGES)


def test_pdf_is_told_by_content_and_title_falls_back_to_the_first_line() -> None:
    doc = load_bytes(make_pdf(PAGES[1:], title=None), "scan-0042.bin")[0]
    assert doc.title == PAGES[1][0] and doc.pages is not None and len(doc.pages) == 2


def test_pdf_without_text_is_refused_by_name() -> None:
    with pytest.raises(LoadError, match=r"blank\.pdf: a PDF without a text layer"):
        load_bytes(make_pdf([[]]), "blank.pdf")


def test_damaged_pdf_is_refused_by_name() -> None:
    with pytest.raises(LoadError, match=r"broken\.pdf: not a readable PDF"):
        load_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "broken.pdf")


def test_docx_paragraphs_and_title() -> None:
    doc = load_bytes(make_docx(["Ferry vote", "The council approved the terminal.", "",
                                "It opens in 2027."], title="Ferry vote passes"), "vote.docx")[0]
    assert doc.title == "Ferry vote passes" and doc.pages is None
    assert doc.text == "Ferry vote\nThe council approved the terminal.\nIt opens in 2027."


@pytest.mark.parametrize(("data", "name", "message"), [
    (PNG, "photo.png", r"photo\.png: a PNG image, not text"),
    (PNG, "notes.txt", r"notes\.txt: a PNG image, not text"),
    (b"\x7fELF\x02\x01\x01" + bytes(64), "article.txt", r"article\.txt: a program"),
    (b"\x01\x02\x03\x00\xff\xfe" * 20, "story.txt", r"story\.txt: binary data"),
    (b"Just text, not a PDF.", "fake.pdf", r"fake\.pdf: not a PDF file"),
])
def test_other_binary_data_is_refused_by_name(data: bytes, name: str, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        load_bytes(data, name)


def test_zip_that_is_not_word_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("content.xml", "<x/>")
    with pytest.raises(LoadError, match=r"pack\.docx: a ZIP archive"):
        load_bytes(buffer.getvalue(), "pack.docx")


def test_folder_with_pdf_docx_and_binaries(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(make_pdf(PAGES))
    (tmp_path / "vote.docx").write_bytes(make_docx(["Ferry vote", "The council approved it."]))
    (tmp_path / "photo.txt").write_bytes(PNG)
    (tmp_path / "photo.png").write_bytes(PNG)  # not a supported suffix: not even looked at
    report = load_paths([tmp_path])
    assert [d.title for d in report.documents] == ["Harbour council report", "Ferry vote"]
    assert [str(p) for p in report.problems] == [f"{tmp_path / 'photo.txt'}: a PNG image, not "
                                                 "text; save it as text, HTML, JSON, PDF or DOCX first"]
    assert not report.notes


# stored and cited, with the real models ---------------------------------------------------------
@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QAService]:
    service = QAService(Settings(data_dir=tmp_path_factory.mktemp("data")))
    yield service
    service.close()


def test_pdf_citations_are_exact_and_name_their_page(service: QAService, tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(make_pdf(PAGES))
    doc = load_paths([tmp_path / "report.pdf"]).documents[0]
    record = service.add_documents([doc])[0].document
    assert record.pages == doc.pages and record.text == doc.text
    stored = service.corpus.store.get_document(record.id)
    assert stored is not None and stored.pages == doc.pages

    answer = service.ask("How much will the ferry terminal cost?")
    assert answer.answer is not None and "31 million" in answer.answer
    citation = answer.citations[0]
    assert record.text[citation.start : citation.end] == citation.quote
    assert citation.page == 2 and "31 million euros" in citation.quote
    mayor = service.ask("Who thanked the engineers?")
    assert mayor.citations[0].page == 3
    assert record.text[mayor.citations[0].start : mayor.citations[0].end] == mayor.citations[0].quote


def test_text_documents_have_no_page(service: QAService) -> None:
    doc = load_bytes(b"Bridge news\n\nThe bridge opened on Tuesday in Porto.", "b.txt")[0]
    service.add_documents([doc])
    answer = service.ask("When did the bridge open?")
    assert answer.citations and answer.citations[0].page is None


def test_upload_route_reads_pdf_docx_and_refuses_binaries(api_env: Path) -> None:
    from api.app import create_app

    with TestClient(create_app()) as client:
        pdf = client.post("/v1/documents", files={"file": ("report.pdf", make_pdf(PAGES),
                                                           "application/pdf")})
        assert pdf.status_code == 201, pdf.text
        full = client.get(f"/v1/documents/{pdf.json()['id']}").json()
        assert [tuple(p) for p in full["pages"]] == [(a, b) for a, b in
                                                    load_bytes(make_pdf(PAGES), "r.pdf")[0].pages or []]
        word = client.post("/v1/documents", files={"file": ("vote.docx", make_docx(
            ["Ferry vote", "The council approved the terminal."]), "application/octet-stream")})
        assert word.status_code == 201 and word.json()["title"] == "Ferry vote"
        assert client.get(f"/v1/documents/{word.json()['id']}").json()["pages"] is None
        png = client.post("/v1/documents", files={"file": ("photo.txt", PNG, "text/plain")})
        assert png.status_code == 400 and "photo.txt: a PNG image" in png.text
        answer = client.post("/v1/ask", json={"question": "How much will the ferry terminal cost?"})
        citation = answer.json()["citations"][0]
        assert citation["page"] == 2 and full["text"][citation["start"]:citation["end"]] == citation["quote"]
