"""What both test tiers hold the service to, whatever model answers: a second document and the
citation and widening contracts (tests/fast on the fakes, tests/ on the real models)."""

from __future__ import annotations

from qa.service import QAService
from qa.types import Answer, NewDocument

STORM = NewDocument(
    title="Storm hits northern coast",
    text="A powerful storm struck the northern coast on Thursday.\n\nEmergency services said the "
    "town of Harwick was the worst affected, with more than 200 houses flooded. The regional "
    "governor, Maria Lopez, opened shelters in three schools.",
    published="2024-05-02",
)


def check_offsets(service: QAService, answer: Answer) -> None:
    """The citation contract: quote and answer are the stored text at their offsets."""
    assert answer.citations
    for c in answer.citations:
        doc = service.corpus.document(c.document_id)
        assert doc is not None
        assert doc.text[c.start : c.end] == c.quote
        if c.answer_start is not None:
            assert c.answer_end is not None
            assert c.start <= c.answer_start < c.answer_end <= c.end
            assert doc.text[c.answer_start : c.answer_end] == answer.answer


def check_widened(wide: QAService, question: str, answer: Answer) -> None:
    """With read_expand_sentences on: what was read (and returned) is each retrieved passage
    plus neighbour sentences, some of it wider, and the citation lies within what was read."""
    check_offsets(wide, answer)
    retrieved = {p.passage_id: p for p in wide.retriever.retrieve(question, 5)}
    read = answer.passages[: wide.settings.read_passages]
    assert any(p.start < retrieved[p.passage_id].start or p.end > retrieved[p.passage_id].end
               for p in read)
    for p in read:
        assert p.start <= retrieved[p.passage_id].start < retrieved[p.passage_id].end <= p.end
    cited = next(p for p in answer.passages if p.passage_id == answer.citations[0].passage_id)
    assert cited.start <= answer.citations[0].start < answer.citations[0].end <= cited.end
