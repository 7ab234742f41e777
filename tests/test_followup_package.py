"""The follow-up package (qa/followup/): typed mentions, turn analyses kept as data, events and
phrases as antecedents, candidates from several rewriters, the fitted selector and the search
check, on the real spaCy pipeline and without any /work/shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.followup import (
    Candidate,
    Context,
    Exchange,
    Kind,
    QuestionAnalysis,
    Resolver,
    Selector,
    TurnAnalysis,
    analyse,
    may_need_context,
    prime,
)
from qa.followup import mentions as mentions_module
from qa.followup.mentions import ENTITIES, ParseMemo, is_event_noun, mentions
from qa.followup.rewriters import REWRITERS, Anaphora, Ellipsis
from qa.followup.selector import BASE_FEATURES, SEARCH_FEATURES, Model, fit

TITLE = "Report: Hamas leader met with top Iran commander"
MEETING = ("Khaled Mashaal and Iran’s al-Quds Force commander Qassem Soleimani held a meeting in "
           "Turkey several days after the conflict ended in late August, Saudi daily Al-Hayat "
           "reported.")
OFFICE = ("the possibility for Hamas to open an office in a Hezbollah-controlled area of Beirut — "
          "a request Tehran rejected, according to the report.")
RULES = Selector(None, None)  # the rules' first choice, whatever selector.json holds


def turn(question: str, answer: str | None, standalone: str | None = None,
         evidence: str | None = None) -> Exchange:
    return Exchange(question, answer, standalone or question, (evidence,) if evidence else (),
                    TITLE if evidence else None)


def play(script: list[tuple[str, str | None, str | None]], resolver: Resolver | None = None
         ) -> list[str]:
    resolver = resolver or Resolver(selector=RULES)
    history: list[Exchange] = []
    out = []
    for question, answer, evidence in script:
        standalone = resolver.resolve(question, history).standalone
        out.append(standalone)
        history.append(turn(question, answer, standalone, evidence))
    return out


# --------------------------------------------------------------------------- mentions


def test_mentions_are_typed() -> None:
    found = {m.text: m for m in mentions("Where did Khaled Mashaal meet a senior commander?")}
    assert found["Khaled Mashaal"].kind is Kind.PERSON
    assert found["a senior commander"].kind is Kind.PERSON_NOUN
    assert found["a senior commander"].head == "commander"


def test_event_nouns() -> None:
    assert is_event_noun("meeting", "meet") and is_event_noun("discussion", "discuss")
    assert is_event_noun("visit", "visit") is False  # the same word: no nominalization
    assert not is_event_noun("commander", "command")


# --------------------------------------------------------------------------- analysis


def test_turn_analysis_is_data_that_round_trips() -> None:
    a = analyse(turn("Where did Khaled Mashaal meet Qassem Soleimani?", "Turkey",
                     evidence=MEETING))
    assert [e.text for e in a.events] == ["the meeting between Khaled Mashaal and Qassem Soleimani"]
    assert any(m.text == "Turkey" and m.kind is Kind.GPE for m in a.mentions)
    data = json.loads(json.dumps(a.to_dict()))
    assert TurnAnalysis.from_dict(data) == a
    assert TurnAnalysis.from_dict({**data, "version": -1}) is None  # redone, not misread


def test_a_kept_analysis_is_used_instead_of_parsing_the_turn_again() -> None:
    real = turn("Who leads Hamas?", "Khaled Mashaal")
    kept = analyse(turn("Who leads Hezbollah?", "Hassan Nasrallah"))
    with_kept = Exchange(real.question, real.answer, real.standalone_question, analysis=kept)
    resolver = Resolver(selector=RULES)
    assert resolver.resolve("Where was he born?", [real]).standalone == \
        "Where was Khaled Mashaal born?"
    assert resolver.resolve("Where was he born?", [with_kept]).standalone == \
        "Where was Hassan Nasrallah born?"


def test_primed_turns_are_analysed_without_parsing_again(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """prime() parses in one batch exactly what analyse() needs, and a batch parses as one
    call per text does (the same analyses)."""
    turns = [turn("Where did Khaled Mashaal meet Qassem Soleimani?", "Turkey", evidence=MEETING),
             turn("What did Tehran reject?", "a request to open an office in Beirut",
                  evidence=OFFICE),
             turn("Who reported the meeting?", "Saudi daily Al-Hayat", evidence=MEETING)]
    one_by_one = [analyse(t) for t in turns]
    fresh = ParseMemo(), ParseMemo(disable=tuple(ENTITIES.disable))
    monkeypatch.setattr(mentions_module, "PARSES", fresh[0])
    monkeypatch.setattr(mentions_module, "ENTITIES", fresh[1])
    prime(turns)
    assert len(fresh[0]._docs) == 6 and len(fresh[1]._docs) == 2  # MEETING once

    def no_parsing() -> None:
        raise AssertionError("analyse parsed a text prime() should have parsed")

    monkeypatch.setattr(mentions_module, "nlp", no_parsing)
    assert [analyse(t) for t in turns] == one_by_one


def test_the_parse_memo_is_bounded_and_keeps_what_was_used_last() -> None:
    memo = ParseMemo(size=2)
    first = memo.one("Who leads Hamas?")
    memo.one("Who leads Hezbollah?")
    assert memo.many(["Who leads Hamas?", "Who leads Hamas?"]) == [first, first]  # used last
    memo.one("Where was he born?")  # evicts Hezbollah, the least recently used
    assert list(memo._docs) == ["Who leads Hamas?", "Where was he born?"]
    assert memo.one("Who leads Hamas?") is first


# --------------------------------------------------------------------------- the dialogs


def test_it_can_be_an_event() -> None:
    rewrites = play([
        ("Who did Khaled Mashaal meet?", "Qassem Soleimani", MEETING),
        ("Where?", "Turkey", MEETING),
        ("Who reported it?", "Saudi daily Al-Hayat", MEETING),
        ("What did they discuss?", None, None),
    ])
    assert rewrites[1] == "Where did Khaled Mashaal meet Qassem Soleimani?"
    assert rewrites[2] == "Who reported the meeting between Khaled Mashaal and Qassem Soleimani?"
    # "they" discuss: the two who met, not the newspaper that answered the last question
    assert rewrites[3] == "What did Khaled Mashaal and Qassem Soleimani discuss?"


def test_ellipsis_after_a_stranded_preposition() -> None:
    rewrites = play([("Who did Khaled Mashaal meet with?", "Qassem Soleimani", MEETING),
                     ("Where?", "Turkey", MEETING)])
    assert rewrites[1] == "Where did Khaled Mashaal meet with Qassem Soleimani?"


def test_that_area_is_a_phrase_of_the_last_answer() -> None:
    rewrites = play([("Which request did Tehran reject?", OFFICE, OFFICE),
                     ("Who controls that area?", None, None)])
    assert rewrites[1] == "Who controls the Hezbollah-controlled area of Beirut?"


def test_his_unit_offers_the_unit_named_earlier() -> None:
    history = [turn("Which force does Qassem Soleimani command?", "al-Quds Force", None,
                    MEETING)]
    context = Context(history)
    texts = [c.text for c in Anaphora().rewrite(QuestionAnalysis(
        "How many people are in his unit?"), context)]
    assert "How many people are in Qassem Soleimani's unit?" in texts
    assert "How many people are in the al-Quds Force?" in texts
    # and "it" after it is the unit
    history.append(turn("How many people are in his unit?", "15,000",
                        "How many people are in the al-Quds Force?"))
    assert Resolver(selector=RULES).resolve("What does it specialize in?", history).standalone \
        == "What does the al-Quds Force specialize in?"


# --------------------------------------------------------------------------- resolver


def test_candidates_start_with_the_raw_question() -> None:
    history = [turn("Who did Mashaal meet?", "Qassem Soleimani", evidence=MEETING)]
    resolver = Resolver(selector=RULES)
    candidates = resolver.candidates("Where?", Context(history))
    assert candidates[0] == Candidate("Where?", "raw", 0.0)
    assert candidates[1].source == "ellipsis" and candidates[1].prior == 1.0
    assert len({c.text for c in candidates}) == len(candidates)
    assert [r.name for r in REWRITERS][:2] == ["what_about", "ellipsis"]
    assert not Ellipsis().rewrite(QuestionAnalysis("Where did he go?"), Context(history))


def test_a_self_contained_question_is_not_even_parsed() -> None:
    assert not may_need_context("Where did Mashaal meet Soleimani?")
    resolution = Resolver(selector=RULES).resolve("Where did Mashaal meet Soleimani?",
                                                  [turn("Who?", "x")])
    assert resolution.standalone == "Where did Mashaal meet Soleimani?"
    assert resolution.candidates == ()


def _model(names: tuple[str, ...], weights: dict[str, float]) -> Model:
    return Model(names, np.array([weights.get(n, 0.0) for n in names]), np.zeros(len(names)),
                 np.ones(len(names)))


def test_the_search_check_can_overrule_the_rules() -> None:
    names = BASE_FEATURES + SEARCH_FEATURES
    # a model that trusts the articles more than the rules' preference
    trusting = Selector(_model(names, {"rule_top": 1.0, "support": 3.0}), None)
    history = [turn("Who did Mashaal meet?", "Qassem Soleimani", evidence=MEETING),
               turn("Which outlet carried the report?", "Ynet")]
    question = "What country is that site from?"
    rules = Resolver(selector=RULES).resolve(question, history)
    assert rules.standalone == "What country is Ynet from?"
    runner_up = [s.candidate.text for s in rules.candidates][2]

    def search(query: str) -> list[tuple[str, float]]:  # only the runner-up is in the articles
        if query == runner_up:
            return [(runner_up.lower(), 5.0)]
        return [("nothing relevant here", 1.0)]

    checked = Resolver(selector=trusting).resolve(question, history, search=search)
    assert checked.searched
    assert checked.standalone == runner_up
    # without a search the search-free model (none here) falls back to the rules
    assert Resolver(selector=trusting).resolve(question, history).standalone == rules.standalone


def test_fit_learns_which_feature_marks_the_better_candidate() -> None:
    rng = np.random.default_rng(0)
    groups, targets = [], []
    for _ in range(200):
        good = int(rng.integers(0, 3))
        rows = [{"support": float(i == good) * 0.8 + float(rng.random()) * 0.2,
                 "prior": float(rng.random())} for i in range(3)]
        groups.append(rows)
        targets.append([float(i == good) for i in range(3)])
    model = fit(groups, targets, ("support", "prior"))
    assert model.weights[0] > 1.0 and abs(model.weights[1]) < 0.5 * model.weights[0]
    picked = [int(np.argmax(model.scores(g))) for g in groups]
    assert sum(p == t.index(1.0) for p, t in zip(picked, targets, strict=True)) >= 190


def test_selector_file_round_trips(tmp_path: Path) -> None:
    names = ("raw", "prior")
    selector = Selector(_model(names, {"prior": 2.0}), None)
    path = tmp_path / "selector.json"
    selector.save(path, {"note": "test"})
    again = Selector.load(path)
    assert again.with_search is not None and again.without_search is None
    assert again.with_search.scores([{"prior": 1.0}])[0] == pytest.approx(2.0)
    assert Selector.load(tmp_path / "missing.json").model(True) is None


def test_the_shipped_selector_was_fitted() -> None:
    path = Path(__file__).resolve().parents[1] / "qa" / "followup" / "selector.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["about"]["split"].startswith("tune")
    selector = Selector.load(path)
    assert selector.with_search is not None and selector.without_search is not None
    assert selector.with_search.names == BASE_FEATURES + SEARCH_FEATURES


def test_the_conversation_store_keeps_each_turns_analysis(tmp_path: Path) -> None:
    from qa.chat import exchange_of
    from qa.storage.conversations import ConversationStore

    store = ConversationStore(tmp_path / "qa.sqlite3", 1)
    analysis = analyse(turn("Who did Mashaal meet?", "Qassem Soleimani", evidence=MEETING))
    first = store.add_turn("c1", "Who did Mashaal meet?", "Who did Mashaal meet?",
                           "Qassem Soleimani", [], create=True, analysis=analysis.to_dict())
    store.add_turn("c1", "Where?", "Where did Mashaal meet Qassem Soleimani?", "Turkey", [])
    kept, unanalysed = store.history("c1", 6)
    assert first.analysis == kept.analysis and unanalysed.analysis is None
    assert exchange_of(kept).analysis == analysis
    assert exchange_of(unanalysed).analysis is None  # analysed when a follow-up needs it
    later = analyse(exchange_of(unanalysed))
    store.set_analysis("c1", unanalysed.turn, later.to_dict())
    assert exchange_of(store.history("c1", 6)[1]).analysis == later
    store.close()


def test_the_follow_up_gold_dialogs_are_consistent(sample_text: str) -> None:
    from eval.dialog import load_coqa

    path = Path(__file__).resolve().parents[1] / "eval" / "gold" / "sample-followups.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for d in data["data"]:
        assert d["story"] == sample_text
        for q, a in zip(d["questions"], d["answers"], strict=True):
            assert q["turn_id"] == a["turn_id"] and q["standalone"].strip()
            assert sample_text[a["span_start"]:a["span_end"]] == a["span_text"]
            assert a["input_text"] in a["span_text"]  # answers as written in the article
    dialogs = load_coqa(path)
    assert len(dialogs) == 6 and sum(len(d.turns) for d in dialogs) == 18
    assert all(t.standalone for d in dialogs for t in d.turns)
    follow_ups = [t for d in dialogs for t in d.turns if t.standalone != t.question]
    assert len(follow_ups) == 13


def test_they_who_talked_is_not_the_paper_that_reported_nor_the_place() -> None:
    # "they" were never named in this conversation, so they stay "they"
    rewrites = play([("Where did they meet?", "Turkey", MEETING),
                     ("Who reported it?", "Saudi daily Al-Hayat", MEETING),
                     ("What did they talk about?", None, None), ("When?", None, None)])
    assert rewrites[1:] == ["Who reported the meeting?", "What did they talk about?",
                            "When did they talk?"]  # no "about" left stranded


@pytest.mark.parametrize(("asked", "answer", "evidence", "follow_up", "resolved"), [
    # a paper still says
    ("Who reported the meeting?", "Saudi daily Al-Hayat", MEETING,
     "What did they say about Hamas?", "What did Saudi daily Al-Hayat say about Hamas?"),
    ("Which site carried the report?", "Israeli news site Ynet", None,
     "What did they discuss?", "What did they discuss?"),
    # an agency that is no news agency discusses; a country agrees
    ("Who inspected the site?", "The International Atomic Energy Agency", None,
     "What did they discuss?", "What did The International Atomic Energy Agency discuss?"),
    ("Which country backed the deal?", "Iran", None, "Why did they agree?",
     "Why did Iran agree?"),
])
def test_they_is_an_outlet_only_for_what_outlets_do(asked: str, answer: str,
                                                     evidence: str | None, follow_up: str,
                                                     resolved: str) -> None:
    assert play([(asked, answer, evidence), (follow_up, None, None)])[1] == resolved


def test_ellipsis_after_a_preposition_whose_object_was_asked() -> None:
    rewrites = play([("What did Hamas talk about with Iran?", None, None), ("When?", None, None)])
    assert rewrites[1] == "When did Hamas talk with Iran?"
    answered = play([("What did Hamas talk about with Iran?", "aid", None), ("When?", None, None)])
    assert answered[1] == "When did Hamas talk about aid with Iran?"


def test_a_referent_one_question_back_is_found() -> None:
    # HISTORY_TURNS: the last 2 turns, so that one question in between does not lose "he"
    rewrites = play([("Who leads Hamas?", "Khaled Mashaal", None),
                     ("What is the Quds Force?", "a special forces wing within the Iranian military",
                      None),
                     ("Where did he meet Soleimani?", None, None)])
    assert rewrites[2] == "Where did Khaled Mashaal meet Soleimani?"


def test_ellipsis_keeps_names_as_written() -> None:
    rewrites = play([("What did Saudi daily Al-Hayat talk about?", None, None),
                     ("When?", None, None)])
    assert rewrites[1] == "When did Saudi daily Al-Hayat talk?"  # not "Al - Hayat ... about"


def test_ellipsis_takes_the_name_asked_for_from_a_longer_answer() -> None:
    # the reader's answer is longer than a name, and the small model parses "force" as a verb
    rewrites = play([("Who did Khaled Mashaal meet?", "Quds force chief Qassem Soleimani",
                      MEETING), ("Where?", "Turkey", MEETING)])
    assert rewrites[1] == "Where did Khaled Mashaal meet Qassem Soleimani?"
