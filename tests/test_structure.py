"""An article's structure (qa/structure.py) and the dates it names (qa.dates.resolve_dates), and
how the service uses them: boilerplate and repeats left out of the index, captions kept in
passages of their own and marked in citations, a "when" answer's date normalized."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from qa.dates import mention_at, resolve_dates
from qa.reader import NeuralReader
from qa.service import QAService
from qa.settings import Settings
from qa.structure import BlockKind, article_blocks, stale_claims, wire_datelines
from qa.types import NewDocument, RetrievedPassage

TITLE = "Harbor council approves flood wall"
PAGE = """Harbor Ledger
News   Politics   Sport
Harbor council approves flood wall

Harbor council approves flood wall

Vote ends two years of argument over the waterfront

By Dana Whitfield
City hall reporter

PORT ELLIS, March 9, 2023

Mayor Ruth Calder at the opening of the marina in Bayview on June 3, 2019. (AP Photo/Lena Ortiz)
Mayor Ruth Calder at the opening of the marina in Bayview on June 3, 2019. (AP Photo/Lena Ortiz)

The Port Ellis council voted 6-1 on Tuesday to build a flood wall along the harbor, ending two \
years of argument over the waterfront. Construction will begin in late April, the mayor said.

The wall will cost $14 million and protect 2,300 homes, according to the city engineer.

Share this article
Read more: Port Ellis budget passes
Comments (14)
\u00a9 2023 Harbor Ledger. All rights reserved.
"""


def kinds(text: str, title: str | None = TITLE) -> list[tuple[str, str, bool]]:
    return [(b.kind.value, text[b.start : b.end], b.indexed) for b in article_blocks(text, title)]


def test_a_scraped_page_is_typed_line_by_line() -> None:
    typed = kinds(PAGE)
    assert [k for k, _, _ in typed] == [
        "boilerplate", "boilerplate", "headline", "headline", "standfirst", "byline", "byline",
        "dateline", "caption", "caption", "body", "body", "boilerplate", "boilerplate",
        "boilerplate", "boilerplate"]
    # the second copy of the headline and of the caption are not indexed; the first copies are
    assert [indexed for k, _, indexed in typed if k in ("headline", "caption")] == [
        True, False, True, False]
    for block in article_blocks(PAGE, TITLE):  # offsets point at the stored text, trimmed
        line = PAGE[block.start : block.end]
        assert line == line.strip() and line


def test_without_a_title_the_first_line_that_reads_as_one_is_the_headline() -> None:
    text = "Flood wall approved\n\nThe council voted on Tuesday. It cost $14 million.\n"
    assert [k for k, _, _ in kinds(text, None)] == ["headline", "body"]


def test_a_plain_report_is_all_body() -> None:
    text = ("The council voted 6-1 on Tuesday to build a flood wall.\n\n"
            "The wall will cost $14 million, the engineer said.\n")
    assert [k for k, _, _ in kinds(text, "Council votes")] == ["body", "body"]


@pytest.mark.parametrize(("line", "kind"), [
    ("Hamas chief Khaled Mashaal in Doha, on August 10, 2014. (AFP/al-Watan Doha/Karim Jaafar)",
     BlockKind.CAPTION),
    ("A fan waves a flag before the match. (Getty Images)", BlockKind.CAPTION),
    ("Walter Pruitt presents the budget on March 2, 2021. (Valley Courier/Nate Green)",
     BlockKind.CAPTION),
    ("The minister spoke to reporters, according to AP.", BlockKind.BODY),
    ("read more:", BlockKind.BOILERPLATE),
    ("Sign up for our morning newsletter", BlockKind.BOILERPLATE),
    ("By Jane Doe and Sam Roe, Kestrel Times", BlockKind.BYLINE),
    ("Published: 4 March 2023", BlockKind.DATELINE),
    ("Updated April 18, 2023, 5:42 p.m.", BlockKind.DATELINE),
    ("We use cookies to improve your experience on our site.", BlockKind.BOILERPLATE),
    ("Terms of Service   Privacy Policy   Contact Us", BlockKind.BOILERPLATE),
    ("The relay team celebrates after the final. Image: Upland Star", BlockKind.CAPTION),
    ("Terms of the deal were not disclosed, the company said.", BlockKind.BODY),
])
def test_line_kinds(line: str, kind: BlockKind) -> None:
    text = f"A long enough first paragraph of the report, which says what happened.\n\n{line}\n\n" \
           "Another paragraph of the report that goes on for a while after it.\n"
    assert article_blocks(text, "Some headline")[1].kind is kind


# dates ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "words", "value"), [
    ("The paper reported Tuesday that they met.", "Tuesday", "2014-09-02"),  # the same day
    ("They met on Sunday in Ankara.", "Sunday", "2014-08-31"),
    ("She said she would visit the town on Friday.", "Friday", "2014-09-05"),
    ("The conflict ended in late August.", "late August", "2014-08"),
    ("It reopens by the end of March next year.", "March next year", "2015-03"),
    ("Talks resume next Monday.", "next Monday", "2014-09-08"),
    ("The ceasefire held yesterday.", "yesterday", "2014-09-01"),
    ("The deal was signed two days ago.", "two days ago", "2014-08-31"),
    ("The vote came on Aug. 5 after a delay.", "Aug. 5", "2014-08-05"),
    ("He was born on October 7, 1960.", "October 7, 1960", "1960-10-07"),
    ("In December the plan was dropped.", "December", "2013-12"),
    ("Talks will take place this Friday.", "this Friday", "2014-09-05"),
    ("He must report to prison by Dec. 1.", "Dec. 1", "2014-12-01"),
    ("The Greens won seats in the January election.", "January", "2014-01"),
])
def test_relative_dates_resolve_against_the_publication_date(text: str, words: str,
                                                             value: str) -> None:
    start = text.index(words)
    found = mention_at(resolve_dates(text, "2014-09-02"), start, start + len(words))
    assert found is not None and text[found.start : found.end] == words
    assert found.value == value


@pytest.mark.parametrize(("text", "first", "last"), [
    ("Israel's war with Gaza over the summer.", "2014-06-01", "2014-08-31"),
    ("The ruling came in the fall of 2012.", "2012-09-01", "2012-11-30"),
    ("Officials met last week.", "2014-08-25", "2014-08-31"),
    ("Prices rose earlier this month.", "2014-09-01", "2014-09-02"),
])
def test_ranges(text: str, first: str, last: str) -> None:
    [found] = resolve_dates(text, "2014-09-02")
    assert (found.value, found.first, found.last) == (None, first, last)


@pytest.mark.parametrize("text", [
    "Protesters march through the city.", "Jan Egeland said the talks failed.",
    "June Carter sang at the festival.", "The fossil is 10,000 years ago old.",
    "Growth of 1.5 years ago levels.", "A total of 2015 people came.",
    "The Sunday Times reported it.", "It may rain."])
def test_words_that_only_look_like_dates(text: str) -> None:
    assert resolve_dates(text, "2014-09-02") == []


def test_one_mention_per_phrase() -> None:
    text = "It reopens by the end of March next year."
    assert [(text[m.start : m.end], m.value) for m in resolve_dates(text, "2014-09-02")] == [
        ("March next year", "2015-03")]


def test_relative_dates_need_a_publication_day() -> None:
    text = "They met on Tuesday, in late August, and again on August 10, 2014. It may rain."
    assert [text[m.start : m.end] for m in resolve_dates(text, None)] == ["August 10, 2014"]
    assert [text[m.start : m.end] for m in resolve_dates(text, "2014")] == ["August 10, 2014"]
    # "may" the verb is never a month
    assert all(text[m.start : m.end] != "may" for m in resolve_dates(text, "2014-09-02"))


# the service ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> QAService:
    service = QAService(Settings(data_dir=tmp_path_factory.mktemp("structure")))
    service.add_documents([NewDocument(TITLE, PAGE, published="2023-03-09")])
    return service


def test_boilerplate_and_repeats_are_not_indexed(service: QAService) -> None:
    [doc_id] = service.corpus.store.document_ids()
    passages = service.corpus.store.document_passages(doc_id)
    indexed = " ".join(p.text for p in passages)
    for furniture in ("Share this article", "Comments (14)", "Read more", "All rights reserved",
                      "News   Politics"):
        assert furniture not in indexed
    assert indexed.count("Mayor Ruth Calder at the opening") == 1
    assert indexed.count(TITLE) == 1
    assert [p.block for p in passages if "AP Photo" in p.text] == ["caption"]
    assert all("AP Photo" not in p.text for p in passages if p.block == "body")
    # the stored text is untouched: every offset still points at it
    stored = service.corpus.store.get_document(doc_id)
    assert stored is not None and stored.text == PAGE


def test_answers_cite_the_report_not_the_caption(service: QAService) -> None:
    answer = service.ask("When did the Port Ellis council vote for the flood wall?")
    assert answer.answer is not None and "Tuesday" in answer.answer
    [first, *_] = answer.citations
    assert first.block == "body"
    assert answer.date is not None and (answer.date.text, answer.date.value) == (
        "Tuesday", "2023-03-07")


def test_a_photo_question_can_still_be_answered_from_its_caption(service: QAService) -> None:
    answer = service.ask("Where was the photo of Mayor Ruth Calder taken?")
    assert answer.answer is not None and "Bayview" in answer.answer
    assert answer.citations[0].block == "caption"


def test_the_document_lists_its_typed_lines(api_env: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app()) as client:
        created = client.post("/v1/documents", json={"title": TITLE, "text": PAGE})
        assert created.status_code == 201, created.text
        doc = client.get(f"/v1/documents/{created.json()['id']}").json()
    blocks = doc["blocks"]
    assert [b["kind"] for b in blocks][:3] == ["boilerplate", "boilerplate", "headline"]
    assert all(doc["text"][b["start"] : b["end"]].strip() for b in blocks)
    assert [b["indexed"] for b in blocks if b["kind"] == "caption"] == [True, False]


def test_structure_off_indexes_everything_and_still_dates_answers(tmp_path: Path) -> None:
    service = QAService(Settings(data_dir=tmp_path, article_structure=False))
    service.add_documents([NewDocument(TITLE, PAGE, published="2023-03-09")])
    [doc_id] = service.corpus.store.document_ids()
    indexed = " ".join(p.text for p in service.corpus.store.document_passages(doc_id))
    assert "Share this article" in indexed
    record = service.corpus.store.get_document(doc_id)
    assert record is not None and record.blocks is None
    answer = service.ask("When did the Port Ellis council vote for the flood wall?")
    assert answer.date is not None and answer.date.value == "2023-03-07"
    assert answer.citations[0].block is None


def test_line_typing_matches_the_hand_labelling_of_the_news_set() -> None:
    folder = Path(__file__).parents[1] / "eval" / "gold" / "news"
    articles = [json.loads(x) for x in (folder / "articles.jsonl").read_text().splitlines()]
    labels = {r["key"]: r["lines"] for r in map(json.loads,
                                                (folder / "labels.jsonl").read_text().splitlines())}
    right = total = 0
    for article in articles:
        typed = {b.start: b.kind.value for b in article_blocks(article["text"], article["title"])}
        for line in labels[article["key"]]:
            total += 1
            right += typed.get(line["start"]) == line["kind"]
            if article["split"] == "tuning":  # the rules were written on these: all right
                assert typed.get(line["start"]) == line["kind"], (article["key"], line)
    assert right / total >= 0.98


def test_line_typing_of_the_extra_labelled_pages() -> None:
    """eval/gold/news/pages.jsonl: web furniture written for the rules (cookie notices, link
    lists under "Related Coverage", a byline without "By" over its role), every line labelled."""
    folder = Path(__file__).parents[1] / "eval" / "gold" / "news"
    for page in map(json.loads, (folder / "pages.jsonl").read_text().splitlines()):
        text = page["text"]
        lines = [m.span() for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
        assert [(x["start"], x["end"]) for x in page["lines"]] == lines, page["key"]
        typed = {b.start: b.kind.value for b in article_blocks(text, page["title"])}
        assert {x["start"]: x["kind"] for x in page["lines"]} == typed, page["key"]


def test_links_under_a_related_heading_are_furniture_and_a_report_after_them_is_not() -> None:
    text = ("Council votes for the wall\n\nThe council met on Monday and voted for the wall, "
            "which will cost $14 million.\n\nRelated Coverage\n\nMayor backs the sea wall\n\n"
            "The work starts in May, the engineer said, and will take two years.\n")
    assert [k for k, _, _ in kinds(text, "Council votes for the wall")] == [
        "headline", "body", "boilerplate", "boilerplate", "body"]


REPORT = ("The council met on Monday and voted six to one for the sea wall, which will cost "
          "$14 million and protect the harbor.\n\n"
          "Work starts in May, the city engineer said, and will take two years to finish.\n\n")


def test_on_a_page_of_paragraphs_short_unpunctuated_lines_and_pull_quotes_are_furniture() -> None:
    text = ("Council votes for the wall\n\n" + REPORT
            + "Most shared\n\nMayor backs the sea wall after storm\n\n"
            "\u201cThe harbor cannot wait another winter.\u201d \u2014 Mayor Ruth Calder\n\n"
            "Get the Harbor Morning newsletter in your inbox\n\n"
            "Join the discussion (12)\n\n"
            "Residents asked for the wall after the storm of 2021 flooded 40 homes.\n\n"
            "- Cost: $14 million\n")
    assert [k for k, _, _ in kinds(text, "Council votes for the wall")] == [
        "headline", "body", "body", "boilerplate", "boilerplate", "boilerplate", "boilerplate",
        "boilerplate", "body", "body"]


def test_inside_the_report_lists_results_and_subheadings_are_kept() -> None:
    inside = ["The plan includes:", "A 2.3 km wall along the north shore",
              "Key facts", "Cost: $14 million", "Rovers 3, Athletic 1",
              "Jane Smith (Dem) 12,345", "Q: When will the north section open",
              "Who pays for the wall", "The money comes from three neighbourhoods \u2014",
              "\u201cThis is a disaster\u201d \u2014 Mr Lee, who runs the bakery, said the flood "
              "cost him $40,000."]
    text = ("Council votes for the wall\n\nBy Ann Park\n\nCouncil backs the plan after a third "
            "flood\n\n" + REPORT + "\n\n".join(inside) + "\n\nResidents asked for the wall "
            "after the storm of 2021 flooded 40 homes on the north shore.\n")
    typed = kinds(text, "Council votes for the wall")
    assert [k for k, line, _ in typed if line in inside] == ["body"] * len(inside)
    assert all(indexed for _, _, indexed in typed)  # the deck under the byline too


def test_a_hard_wrapped_text_keeps_its_lines() -> None:
    # each line of a wrapped paragraph is short and most end mid-sentence: not furniture
    words = REPORT.replace("\n", " ").split() * 3
    wrapped = "\n".join(" ".join(words[i : i + 11]) for i in range(0, len(words), 11))
    typed = kinds("Council votes for the wall\n\n" + wrapped, "Council votes for the wall")
    assert len(typed) == 1 + len(wrapped.splitlines())
    assert all(indexed for _, _, indexed in typed) and typed[-1][0] == "body"


def test_a_reporters_desk_under_the_byline_is_the_byline() -> None:
    text = ("Council votes for the wall\n\nBy Ruth Calder\nCrime and public safety reporter\n\n"
            "Environment desk\n\n" + REPORT)
    assert [k for k, _, _ in kinds(text, "Council votes for the wall")][:3] == [
        "headline", "byline", "byline"]


def test_widening_a_passage_stops_at_a_line_left_out(tmp_path: Path) -> None:
    text = ("Council votes for the wall\n\n"
            "The council met on Monday. It voted for the wall. The mayor spoke. Work starts soon. "
            "The cost is $14 million.\n\n"
            "Read more: Budget passes\n\n"
            "Engineers will survey the harbor first. They expect no delays. Residents welcomed "
            "it. A public meeting follows. The wall opens in 2026.\n")
    service = QAService(Settings(data_dir=tmp_path))
    service.add_documents([NewDocument("Council votes for the wall", text)])
    found = service.retriever.retrieve("When will the wall open?", 5)
    target = next(p for p in found if "opens in 2026" in p.text)
    whole = service.corpus.expand([target], 100)[0]
    assert "Read more" not in whole.text and "The council met" not in whole.text
    assert whole.text.endswith("The wall opens in 2026.")


def test_an_html_pages_figure_captions_are_kept_as_captions(tmp_path: Path) -> None:
    from qa.loaders import from_html

    html = ("<html><head><title>Flood wall approved</title></head><body><article>"
            "<h1>Harbor council approves flood wall</h1><figure><img src='a.jpg'><figcaption>"
            "Mayor Ruth Calder at the marina in Bayview on June 3, 2019.</figcaption></figure>"
            "<p>The Port Ellis council voted 6-1 on Tuesday to build a flood wall along the "
            "harbor, ending two years of argument over the waterfront, officials said.</p>"
            "<p>The wall will cost $14 million and protect 2,300 homes, according to the city "
            "engineer who presented the plan.</p></article></body></html>")
    doc = from_html(html, "wall.html")
    assert doc.captions is not None
    [(start, end)] = doc.captions
    assert doc.text[start:end] == "Mayor Ruth Calder at the marina in Bayview on June 3, 2019."
    service = QAService(Settings(data_dir=tmp_path))
    service.add_documents([doc])
    [doc_id] = service.corpus.store.document_ids()
    passages = service.corpus.store.document_passages(doc_id)
    assert [p.block for p in passages if "Bayview" in p.text] == ["caption"]
    photo = service.ask("Where was the photo of Mayor Ruth Calder taken?")
    assert photo.answer is not None and "Bayview" in photo.answer
    assert photo.citations[0].block == "caption"


@pytest.mark.parametrize(("text", "dateline"), [
    ("ATHENS, Aug. 10 \u2014 The ministers met.", ["ATHENS, Aug. 10 \u2014"]),
    ("Title\n\nBEIRUT, Lebanon (CNN) -- Iran said no.", ["BEIRUT, Lebanon (", ") --"]),
    ("WASHINGTON (Reuters) - The talks ended.", ["WASHINGTON (", ") -"]),
    ("KESTREL BAY, Dec. 12 \u2014 A storm hit.", ["KESTREL BAY, Dec. 12 \u2014"]),
    ("WASHINGTON, March 5, 2024 - It rained.", ["WASHINGTON, March 5, 2024 -"]),
    ("WEXLEY, Oct. 3\u2014A group claimed it.", ["WEXLEY, Oct. 3\u2014"]),
])
def test_wire_datelines_are_found_to_their_dash_less_the_agency(text: str,
                                                                dateline: list[str]) -> None:
    assert [text[a:b] for a, b in wire_datelines(text)] == dateline


@pytest.mark.parametrize("text", [
    "NATO said on Monday - that was all.", "The US - China talks.", "I - think so.",
    "He left. PARIS, later, was calm", "NASA \u2014 the agency delayed the launch.",
    "FBI - led investigators searched it.", "US - China talks resumed.", "CEO - Jane Doe",
    "JOHN SMITH - Staff Writer", "IT, HR and Finance - three teams.", "AP - it said"])
def test_sentences_are_not_wire_datelines(text: str) -> None:
    assert wire_datelines(text) == []


def test_the_reader_never_answers_with_the_dateline() -> None:
    # The neural reader took the capitalised place that opens a wire report for "which agency"
    # or "which country" (the dateline says where the report was filed).
    text = ("WEXLEY, Oct. 3 \u2014 A ransomware group calling itself Grey Heron claimed "
            "responsibility on Tuesday for the cyberattack that has disrupted Tollesbury Regional "
            "Medical Center since the early hours of Monday.")
    passage = RetrievedPassage(passage_id=1, document_id="d", title="t", start=0, end=len(text),
                               text=text, score=1.0)
    reader = NeuralReader()
    for question in ("Which law enforcement agency is investigating the attack?",
                     "In which country is the Grey Heron group based?",
                     "Which state official urged hospitals not to pay?"):
        found = reader.read(question, [passage]).best
        assert found is not None and found.answer_start >= len("WEXLEY, Oct. 3 \u2014 "), question
    # the agency between the place and the dash names who reported: it stays an answer
    text = ("PORT MAREN (Atlas Wire) \u2014 Scientists exploring a field of hydrothermal vents "
            "off Serra Island have found what they believe are at least 38 animal species new to "
            "science, the expedition's leaders said on Monday.")
    passage = replace(passage, end=len(text), text=text)
    found = reader.read("Which news agency reported the discovery of the new species?",
                        [passage]).best
    assert found is not None and text[found.answer_start:found.answer_end] == "Atlas Wire"


@pytest.mark.parametrize(("text", "claim"), [
    ("Correction: An earlier version of this article said the ban would run until Oct. 1. It "
     "runs until Sept. 15.",
     "Correction: An earlier version of this article said the ban would run until Oct. 1."),
    ("A previous version of this story misidentified the judge as Ann Lee.\nThe judge is Bo Chan.",
     "A previous version of this story misidentified the judge as Ann Lee."),
    ("Body.\n\nThis story originally said 300 homes burned. It was 250.",
     "This story originally said 300 homes burned."),
])
def test_a_corrections_account_of_the_old_version_is_found(text: str, claim: str) -> None:
    assert [text[a:b] for a, b in stale_claims(text)] == [claim]


def test_the_reader_does_not_answer_with_what_a_correction_says_was_wrong() -> None:
    # The corrected article repeats the old figure in its notice: the reader took it.
    text = ("Correction: An earlier version of this article said hackers may have copied the "
            "data of about 48,000 patients. The hospital's figure is about 84,000 patients.\n\n"
            "WEXLEY, Oct. 5 \u2014 Tollesbury Regional Medical Center said Thursday that hackers "
            "may have copied personal and medical information of about 84,000 patients.")
    passage = RetrievedPassage(passage_id=1, document_id="d", title="t", start=0, end=len(text),
                               text=text, score=1.0)
    found = NeuralReader().read("How many patients' records may the hackers have copied?",
                                [passage]).best
    assert found is not None and "84,000" in text[found.answer_start:found.answer_end]
