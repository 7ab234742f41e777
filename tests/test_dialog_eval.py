"""The conversational evaluation (eval/dialog.py) and its text metrics (eval/text_metrics.py):
hand-computed BLEU/ROUGE, the CANARD/CoQA/QuAC loaders and scoring on tiny inline files, and one
short dialog end to end on the real models. Needs no /work/shared data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval.dialog import (
    CanardItem,
    Dialog,
    DialogTurn,
    TurnResult,
    canard_metrics,
    dialog_metrics,
    failure_category,
    load_canard,
    load_coqa,
    load_quac,
    previous_turn_baseline,
    run_canard,
    turn_f1,
)
from eval.text_metrics import corpus_bleu, mean_rouge1_f, rouge1_f, tokenize

# --------------------------------------------------------------------------- metrics


def test_tokenize() -> None:
    assert tokenize("What is Hamas’s stance?") == ["what", "is", "hamas", "'", "s", "stance", "?"]


def test_bleu_identical_is_100() -> None:
    assert corpus_bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]) == \
        pytest.approx(100.0)


def test_bleu_brevity_penalty() -> None:
    # all n-gram precisions are 1; c = 4, r = 6: BP = exp(1 - 6/4)
    assert corpus_bleu(["the cat sat on"], [["the cat sat on the mat"]]) == \
        pytest.approx(100 * math.exp(-0.5))


def test_bleu_precisions_and_corpus_pooling() -> None:
    # p1..p4 = 4/5, 3/4, 2/3, 1/2; same length, so no brevity penalty
    one = corpus_bleu(["a b c d e"], [["a b c d f"]])
    assert one == pytest.approx(100 * (0.8 * 0.75 * (2 / 3) * 0.5) ** 0.25)
    # counts are pooled over the corpus before the geometric mean
    both = corpus_bleu(["a b c d e", "a b c d"], [["a b c d f"], ["a b c d"]])
    assert both == pytest.approx(100 * ((8 / 9) * (6 / 7) * (4 / 5) * (2 / 3)) ** 0.25)


def test_bleu_clipping_and_no_match() -> None:
    assert corpus_bleu(["the the the the"], [["the cat"]]) == 0.0  # no bigram matches
    assert corpus_bleu([""], [["a"]]) == 0.0
    with pytest.raises(ValueError):
        corpus_bleu(["a"], [])


def test_bleu_closest_reference_length() -> None:
    # references of 3 and 8 tokens: the 3-token one is closest to the candidate's 3
    assert corpus_bleu(["a b c d"], [["a b c d", "a b c d e f g h"]]) == pytest.approx(100.0)


def test_bleu_scores_the_projects_tokens() -> None:
    # lower-cased, "?" and "'s" split off as this project tokenizes (sacreBLEU's default 13a
    # tokenizer is case-sensitive and keeps "Hamas's" whole, which would score below 100 here)
    assert corpus_bleu(["WHERE did Hamas's leader meet?"], [["where did hamas ' s leader meet ?"]]) \
        == pytest.approx(100.0)


def test_rouge1() -> None:
    assert rouge1_f("the cat sat", "the cat ran away") == pytest.approx(4 / 7)
    assert rouge1_f("x", "y") == 0.0
    assert rouge1_f("Where?", "where") == pytest.approx(2 / 3)  # "?" is a token here
    assert mean_rouge1_f(["the cat sat", "x"], [["the cat ran away"], ["y", "x"]]) == \
        pytest.approx(100 * (4 / 7 + 1.0) / 2)


def test_turn_f1_abstentions() -> None:
    assert turn_f1("", [""]) == 1.0  # abstaining on an unanswerable turn
    assert turn_f1("Turkey", [""]) == 0.0
    assert turn_f1("in Turkey", ["Turkey", "in Turkey"]) == 1.0  # max over references
    assert turn_f1("", ["Turkey"]) == 0.0


# --------------------------------------------------------------------------- CANARD


CANARD = [
    {"History": ["Frank Zappa", "Disbandment"], "QuAC_dialog_id": "d1",
     "Question": "What group disbanded?", "Question_no": 1, "Rewrite": "What group disbanded?"},
    {"History": ["Frank Zappa", "Disbandment", "What group disbanded?",
                 "Zappa and the Mothers of Invention"],
     "QuAC_dialog_id": "d1", "Question": "When did they disband?", "Question_no": 2,
     "Rewrite": "When did Zappa and the Mothers of Invention disband?"},
    {"History": ["Anna Vissi", "Career", "What happened in 1983?",
                 "In May 1983, she married Nikos Karvelas, a composer."],
     "QuAC_dialog_id": "d2", "Question": "Did she have any children?", "Question_no": 2,
     "Rewrite": "Did Anna Vissi have any children?"},
]


def test_canard_loading_and_baselines(tmp_path: Path) -> None:
    path = tmp_path / "canard.json"
    path.write_text(json.dumps(CANARD), encoding="utf-8")
    items = load_canard(path)
    assert items[1].title == "Frank Zappa" and items[1].section == "Disbandment"
    assert items[1].history == (("What group disbanded?", "Zappa and the Mothers of Invention"),)
    assert previous_turn_baseline(items[0]) == "What group disbanded?"
    assert previous_turn_baseline(items[1]) == \
        "What group disbanded? Zappa and the Mothers of Invention When did they disband?"

    results = run_canard(items)
    rewrites = {r.item.question: r.rewrite for r in results}
    assert rewrites["What group disbanded?"] == "What group disbanded?"
    assert rewrites["When did they disband?"] == \
        "When did Zappa and the Mothers of Invention disband?"
    assert rewrites["Did she have any children?"] == "Did Anna Vissi have any children?"
    metrics = canard_metrics(results)
    systems = metrics["systems"]
    assert systems["resolver (qa/followup/)"]["bleu"] == pytest.approx(100.0)
    assert systems["raw question"]["bleu"] < 100.0 and systems["raw question"]["changed"] == 0
    assert metrics["exact_match"] == 3 and metrics["failures"] == []
    # how the BLEU column was computed, in sacreBLEU's words
    assert metrics["bleu_signature"].startswith("nrefs:1|case:lc|eff:no|tok:none|smooth:none|")


def _item(question: str, rewrite: str, history: tuple[tuple[str, str], ...] = (("q", "a"),)
          ) -> CanardItem:
    return CanardItem("d", 2, "Frank Zappa", "", history, question, rewrite)


def test_failure_categories() -> None:
    item = _item("When did they disband?", "When did the Mothers of Invention disband?")
    assert failure_category(item, "When did the Mothers of Invention disband?") is None
    assert failure_category(item, "When did they disband?") == "pronoun left unresolved"
    assert failure_category(item, "When did Captain Beefheart disband?") == \
        "wrong or partly wrong referent (or ellipsis filler)"
    standalone = _item("When did Zappa die?", "When did Zappa die?")
    assert failure_category(standalone, "When did Zappa Frank die?") == \
        "rewrote a question that was already standalone"
    implicit = _item("Why were there problems?", "Why were there problems with the band?")
    assert failure_category(implicit, implicit.question) == \
        "implicit context left out (no pronoun to resolve)"


# --------------------------------------------------------------------------- CoQA / QuAC


def test_load_coqa_with_additional_answers(tmp_path: Path) -> None:
    data = {"version": "1.0", "data": [{
        "id": "s1", "source": "x", "filename": "f.txt", "name": "f.txt",
        "story": "Cotton lived in a barn.",
        "questions": [{"turn_id": 1, "input_text": "Where did Cotton live?"},
                      {"turn_id": 2, "input_text": "Why?"}],
        "answers": [{"turn_id": 1, "input_text": "in a barn"},
                    {"turn_id": 2, "input_text": "unknown"}],
        "additional_answers": {"0": [{"turn_id": 1, "input_text": "a barn"},
                                     {"turn_id": 2, "input_text": "unknown"}]},
    }]}
    path = tmp_path / "coqa.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    (dialog,) = load_coqa(path)
    assert dialog.text == "Cotton lived in a barn." and dialog.title == "Cotton lived in a barn."
    assert dialog.turns[0] == DialogTurn("Where did Cotton live?", ("in a barn", "a barn"))
    assert dialog.turns[1].golds == ("",)


def test_load_quac_drops_the_cannotanswer_marker(tmp_path: Path) -> None:
    data = {"data": [{"title": "Anna Vissi", "section_title": "1983", "paragraphs": [{
        "id": "p1", "context": "In May 1983, she married Nikos Karvelas. CANNOTANSWER",
        "qas": [{"question": "what happened in 1983?",
                 "answers": [{"text": "she married Nikos Karvelas.", "answer_start": 13}],
                 "orig_answer": {"text": "In May 1983, she married Nikos Karvelas.",
                                 "answer_start": 0}},
                {"question": "did they have children?",
                 "answers": [{"text": "CANNOTANSWER", "answer_start": 41}],
                 "orig_answer": {"text": "CANNOTANSWER", "answer_start": 41}}]}]}]}
    path = tmp_path / "quac.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    (dialog,) = load_quac(path)
    assert dialog.text == "In May 1983, she married Nikos Karvelas."
    assert dialog.title == "Anna Vissi — 1983"
    assert dialog.turns[0].golds == ("she married Nikos Karvelas.",
                                     "In May 1983, she married Nikos Karvelas.")
    assert dialog.turns[1].golds == ("",)


def test_dialog_metrics_by_turn() -> None:
    rows = [TurnResult("a", 1, "q", "q", "Turkey", ["Turkey"], 1.0, True, 0.9),
            TurnResult("a", 2, "Where?", "Where did X go?", "", ["Doha"], 0.0, False, 0.1),
            TurnResult("b", 1, "q", "q", "", [""], 1.0, False, 0.2)]
    m = dialog_metrics(rows)
    assert m["f1"] == pytest.approx(200 / 3, abs=0.01)
    assert m["f1_by_turn"] == {1: {"f1": 100.0, "n": 2}, 2: {"f1": 0.0, "n": 1}}
    assert (m["answerable"], m["abstention_turns"], m["abstentions_right"]) == (2, 1, 1)
    assert (m["answered"], m["answered_with_citation"], m["rewritten"]) == (1, 1, 1)


def test_one_short_dialog_end_to_end(sample_text: str) -> None:
    from eval.dialog import run_dialogs
    from qa.settings import Settings

    dialog = Dialog("d1", "Report: Hamas leader met with top Iran commander", sample_text, (
        DialogTurn("Who did Mashaal meet?", ("Soleimani", "Qassem Soleimani")),
        DialogTurn("Where?", ("Turkey",)),
    ))
    results = run_dialogs([dialog], Settings(), progress=False)
    assert [r.turn for r in results] == [1, 2]
    # the reader's turn-1 answer filled in (a prefix would pass a rewrite that dropped it)
    assert results[1].standalone_question == f"Where did Mashaal meet {results[0].prediction}?"
    assert [r.f1 for r in results] == [1.0, 1.0] and all(r.cited for r in results)

    where = run_dialogs([Dialog("d1", dialog.title, sample_text, (
        DialogTurn("Who did Mashaal meet?", ("Qassem Soleimani",)),
        DialogTurn("Where?", ("Turkey",)),
    ))], Settings(), "gold-history", progress=False)[1]
    # resolved against the reference answer of turn 1, whatever the reader said
    assert where.standalone_question == "Where did Mashaal meet Qassem Soleimani?"


# --------------------------------------------------------------------------- follow-ups v2


def test_sentence_bleu_ranks_candidates() -> None:
    from eval.text_metrics import sentence_bleu

    gold = "When did Zappa and the Mothers of Invention disband?"
    assert sentence_bleu(gold, gold) == pytest.approx(1.0)
    assert sentence_bleu("When did they disband?", gold) < \
        sentence_bleu("When did Zappa disband?", gold) < \
        sentence_bleu("When did Zappa and the Mothers disband?", gold)
    assert sentence_bleu("", gold) == 0.0


def test_canard_split_is_fixed_and_by_dialog() -> None:
    from eval.dialog import split_of

    ids = [f"C_{i:04d}_0" for i in range(2000)]
    halves = [split_of(i) for i in ids]
    assert set(halves) == {"tune", "test"}
    assert 0.45 < halves.count("tune") / len(halves) < 0.55
    assert [split_of(i) for i in ids] == halves  # a stable hash, not Python's salted hash()
    # pinned: the rule is SHA-1's first byte, even = tune
    assert split_of("C_2d211835213b45588ad5ca868ce7fabd_0") == (
        "tune" if __import__("hashlib").sha1(
            b"C_2d211835213b45588ad5ca868ce7fabd_0").digest()[0] % 2 == 0 else "test")


def test_bm25_over_a_dialogs_passages() -> None:
    from eval.dialog import Bm25, dialog_passages

    items = [CanardItem("d", 3, "Frank Zappa", "", (
        ("What group disbanded?", "Zappa and the Mothers of Invention"),
        ("When?", "In late 1969, Zappa broke up the band."), ("Why?", "CANNOTANSWER")),
        "q", "r")]
    passages = dialog_passages(items)["d"]
    assert passages == ["Zappa and the Mothers of Invention",
                        "In late 1969, Zappa broke up the band."]
    search = Bm25(passages)
    assert search("When did the Mothers of Invention disband?")[0][0] == passages[0]
    assert search("Why did Zappa break up the band?")[0][0] == passages[1]
    assert search("unrelated words only") == []


def test_canard_metrics_count_changed_self_contained_questions() -> None:
    from eval.dialog import RESOLVER, CanardResult

    standalone = _item("When did Zappa die?", "When did Zappa die?")
    follow_up = _item("When did they disband?", "When did the Mothers of Invention disband?")
    results = [CanardResult(standalone, "When did Frank Zappa die?", 1.0),
               CanardResult(follow_up, "When did the Mothers of Invention disband?", 3.0)]
    m = canard_metrics(results, {"other": ["When did Zappa die?", "When did they disband?"]})
    assert (m["self_contained"], m["self_contained_changed"]) == (1, 1)
    assert m["self_contained_changed_pct"] == 100.0
    assert m["systems"]["other"]["standalone_changed"] == 0
    assert m["systems"][RESOLVER]["exact"] == 1 and m["systems"]["other"]["exact"] == 1


def test_selector_groups_target_the_candidates_closest_to_gold() -> None:
    from eval.dialog import CanardResult, selector_groups

    item = _item("When did they disband?", "When did the Mothers of Invention disband?")
    rows = [("When did they disband?", "raw", {"raw": 1.0}),
            ("When did the Mothers of Invention disband?", "anaphora", {"raw": 0.0}),
            ("When did Frank Zappa disband?", "anaphora", {"raw": 0.0})]
    tie = [("When did they disband?", "raw", {"raw": 1.0})]
    groups, targets = selector_groups([CanardResult(item, rows[1][0], 1.0, rows),
                                       CanardResult(item, "x", 1.0, tie)])
    assert targets == [[0.0, 1.0, 0.0]] and len(groups) == 1


def test_dialog_metrics_rewrite_accuracy() -> None:
    rows = [TurnResult("a", 1, "Who?", "Who?", "x", ["x"], 1.0, True, 0.9, {}, "Who?"),
            TurnResult("a", 2, "Where?", "Where did X go?", "y", ["y"], 1.0, True, 0.9, {},
                       "Where did X go?"),
            TurnResult("a", 3, "When?", "When?", "", ["z"], 0.0, False, 0.1, {},
                       "When did X go?")]
    rw = dialog_metrics(rows)["rewrite_accuracy"]
    assert (rw["turns"], rw["exact"], rw["follow_ups"], rw["follow_ups_exact"]) == (3, 2, 2, 1)
    assert 0 < rw["bleu"] < 100
