"""Follow-up resolution (qa/followup/) on the real spaCy pipeline: what the standalone
question says, for the sample article's dialogs and for the cases that must be left alone."""

from __future__ import annotations

import pytest

from qa.followup import Exchange, is_greeting, may_need_context, resolve

TITLE = "Report: Hamas leader met with top Iran commander"
MEETING = ("Khaled Mashaal and Iran’s al-Quds Force commander Qassem Soleimani held a meeting in "
           "Turkey several days after the conflict ended in late August, Saudi daily Al-Hayat "
           "reported.")
YNET = ("Mashaal was only allowed to meet with Soleimani, a powerful military leader who is "
        "thought to have led Iranian operations abroad, after receiving the green light from "
        "Hamas, according to the report, which was also carried by Israeli news site Ynet.")


def turn(question: str, answer: str | None, standalone: str | None = None,
         evidence: str | None = None) -> Exchange:
    return Exchange(question, answer, standalone or question, (evidence,) if evidence else (),
                    TITLE if evidence else None)


def play(script: list[tuple[str, str | None, str | None]]) -> list[str]:
    """Ask a scripted dialog: (question, answer, evidence) per turn; returns the rewrites."""
    history: list[Exchange] = []
    out = []
    for question, answer, evidence in script:
        standalone = resolve(question, history)
        out.append(standalone)
        history.append(turn(question, answer, standalone, evidence))
    return out


def test_meeting_dialog_pronouns_and_ellipsis() -> None:
    rewrites = play([
        ("Who did Mashaal meet?", "Qassem Soleimani", MEETING),
        ("Where?", "Turkey", MEETING),
        ("What did they talk about?", "the resumption of financial and military aid from Iran",
         "Both sides discussed the resumption of financial and military aid from Iran"),
        ("Which force does he command?", "al-Quds Force", MEETING),
        ("How big is it?", "15,000", None),
    ])
    assert rewrites[0] == "Who did Mashaal meet?"
    assert rewrites[1] == "Where did Mashaal meet Qassem Soleimani?"
    # "they": the two people of the previous turn, under the fuller name the evidence gives
    assert rewrites[2] in ("What did Khaled Mashaal and Qassem Soleimani talk about?",
                           "What did Mashaal and Qassem Soleimani talk about?")
    # "he ... command" goes to the one the evidence calls "commander"
    assert rewrites[3] == "Which force does Qassem Soleimani command?"
    assert rewrites[4] == "How big is the al-Quds Force?"  # a name headed by "Force" takes "the"


def test_report_dialog_two_its_and_a_demonstrative() -> None:
    rewrites = play([
        ("Who reported the meeting?", "Saudi daily Al-Hayat", MEETING),
        ("What day did it report it?", "Tuesday", None),
        ("Which other outlet carried the story?", "Ynet", YNET),
        ("What country is that site from?", "Israeli", YNET),
    ])
    # the object "it" is not the subject "it" of the same clause
    assert rewrites[1] == "What day did Saudi daily Al-Hayat report the meeting?"
    assert rewrites[2] == "Which other outlet carried the story?"
    assert rewrites[3] == "What country is Ynet from?"


def test_leader_dialog_keeps_the_centre() -> None:
    rewrites = play([
        ("Who is the leader of Hamas?", "Khaled Mashaal", "Hamas chief Khaled Mashaal in Doha"),
        ("Who gave him the green light to meet Soleimani?", "Hamas", YNET),
        ("What condition did he set for his visit to Iran?",
         "being received by Supreme Leader Ayatollah Khameni", None),
        ("How long would he stay there?", None, None),
    ])
    assert rewrites[1] == "Who gave Khaled Mashaal the green light to meet Soleimani?"
    # only the first pronoun of a referent is replaced
    assert rewrites[2] == "What condition did Khaled Mashaal set for his visit to Iran?"
    assert rewrites[3] == "How long would Khaled Mashaal stay in Iran?"


def test_delegation_dialog_group_and_ellipsis_with_the_answer() -> None:
    rewrites = play([
        ("Where did a Hamas delegation go after the meeting?", "Tehran", None),
        ("What did they ask to open?", "an office", None),
        ("Where?", "a Hezbollah-controlled area of Beirut", None),
        ("How did Tehran answer?", "rejected", None),
        ("What were they worried about?", None, None),
    ])
    assert rewrites[1] == "What did the Hamas delegation ask to open?"
    assert rewrites[2] == "Where did the Hamas delegation ask to open an office?"
    assert rewrites[3] == "How did Tehran answer?"
    assert rewrites[4] == "What were the Hamas delegation worried about?"


def test_ellipsis_after_a_clause_long_answer_carries_its_leading_noun_phrase() -> None:
    history = [turn("What did the Hamas delegation ask to open?",
                    "an office in a Hezbollah-controlled area of Beirut — a request Tehran rejected")]
    assert resolve("Where?", history) == "Where did the Hamas delegation ask to open an office?"
    # an answer that does not start with a noun phrase gives no filler: the frame alone
    history = [turn("What did the Hamas delegation ask to open?", "to open an office in Beirut")]
    assert resolve("Where?", history) == "Where did the Hamas delegation ask to open?"


def test_subject_wh_ellipsis_uses_do_support() -> None:
    history = [turn("Who reported the meeting?", "Saudi daily Al-Hayat")]
    assert resolve("When?", history) == "When did Saudi daily Al-Hayat report the meeting?"


def test_ellipsis_without_a_usable_answer_keeps_the_frame() -> None:
    history = [turn("Who did Mashaal meet?", None)]
    assert resolve("Where?", history) == "Where did Mashaal meet?"


def test_what_about_swaps_the_entity_of_the_same_kind() -> None:
    history = [turn("Who leads Hamas?", "Khaled Mashaal")]
    assert resolve("What about Hezbollah?", history) == "Who leads Hezbollah?"


@pytest.mark.parametrize("question", [
    "Where did Mashaal meet Soleimani?",
    "hello",
    "Hi there!",
    "Thanks a lot",
    "Is there any aid from Qatar?",  # existential "there"
    "Is it true that Iran rejected the request?",  # pleonastic "it"
    "Did Mashaal tell his aides about the meeting?",  # "his" has its antecedent in the question
])
def test_standalone_questions_and_greetings_are_left_alone(question: str) -> None:
    history = [turn("Who did Mashaal meet?", "Qassem Soleimani", evidence=MEETING)]
    assert resolve(question, history) == question


def test_no_history_no_rewrite() -> None:
    assert resolve("Where did he go?", []) == "Where did he go?"
    assert resolve("  Where?  ", []) == "Where?"


def test_cheap_gate() -> None:
    assert not may_need_context("Where did Mashaal meet Soleimani?")
    assert may_need_context("What did they talk about?")
    assert may_need_context("Where?")
    assert is_greeting("Good morning!") and not is_greeting("Good morning, where is Gaza?")


def test_topic_title_and_gender_agreement() -> None:
    # CANARD style: the conversation is about the title; "she" is the title person, "he" the
    # man met in the answers (the conversation calls its topic "she").
    history = [
        Exchange("what happened in 1983?", "In May 1983, she married Nikos Karvelas, a composer."),
        Exchange("did she have children?", "she gave birth to her daughter Sofia."),
    ]
    assert resolve("Did she win any awards?", history, topic="Anna Vissi") == \
        "Did Anna Vissi win any awards?"
    assert resolve("What did he compose?", history, topic="Anna Vissi") == \
        "What did Nikos Karvelas compose?"
    assert resolve("What were their biggest hits?", [Exchange("when did they form?", "1967")],
                   topic="The Waterboys (band)").startswith("What were The Waterboys's")
