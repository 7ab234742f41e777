"""A question as the pipeline takes it: validated once, by one function."""

from __future__ import annotations

from qa.text import clean_line


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long)."""


class Question(str):
    """A question that passed `validate_question`: cleaned like document text (qa.text), not
    empty and within the limit. Handed on (ChatService -> QAService), it is not checked again."""

    __slots__ = ()


def validate_question(question: str, max_chars: int) -> Question:
    """`question` cleaned (qa.text.clean_line), or QuestionError when it is empty or longer
    than `max_chars`. A Question is returned as it is: it was validated already."""
    if isinstance(question, Question):
        return question
    cleaned = clean_line(question)
    if not cleaned:
        raise QuestionError("question is empty")
    if len(cleaned) > max_chars:
        raise QuestionError(f"question is {len(cleaned)} characters; the limit is {max_chars}")
    return Question(cleaned)
