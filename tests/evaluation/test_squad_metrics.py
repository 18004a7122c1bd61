"""SQuAD EM/F1 with the official scripts' semantics, on fixed cases worked out by hand from their formulas."""

import json

import pytest

from electra_tf.evaluation.squad import (best_threshold, exact_match, normalize_answer, squad_scores, token_f1,
                                         write_squad_predictions)


@pytest.mark.parametrize("text, normalized", [
    ("The Eiffel Tower", "eiffel tower"),  # lower-case, article dropped
    ("an apple, a pear & the fig!", "apple pear fig"),  # punctuation and all three articles
    ("theatre  anthem\tthere", "theatre anthem there"),  # articles only as whole words; whitespace collapsed
    ("Zoë's café—naïve", "zoës café—naïve"),  # only ASCII punctuation goes; the em dash and accents stay
    ("  ", ""),
])
def test_normalisation(text, normalized):
    assert normalize_answer(text) == normalized


def test_f1_counts_shared_tokens_with_multiplicity():
    # gold: "cat cat sat"; predicted: "cat sat sat on": shared cat x1, sat x1 -> P = 2/4, R = 2/3
    assert token_f1("the cat cat sat", "cat sat sat on") == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert token_f1("cat", "dog") == 0.0
    assert exact_match("Paris.", "paris") == 1.0


def test_empty_answers_differ_between_versions():
    # v2.0: both empty -> 1, one empty -> 0; v1.1: an empty side always gives F1 0.
    assert token_f1("", "", "2.0") == 1.0 and token_f1("the", "", "2.0") == 1.0  # "the" normalises to empty
    assert token_f1("cat", "", "2.0") == 0.0 and token_f1("", "cat", "2.0") == 0.0
    assert token_f1("", "", "1.1") == 0.0


def test_v11_takes_the_best_gold_answer_and_counts_missing_predictions():
    gold = {"q1": ["Denver Broncos", "the Broncos"], "q2": ["1895"], "q3": ["Paris"]}
    scores = squad_scores(gold, {"q1": "Broncos", "q2": "in 1895"})
    # q1: EM with "the Broncos", F1 1; q2: EM 0, F1 2/3 (P 1/2, R 1); q3 missing: 0 and still counted.
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3) == scores["score"]


def test_v20_breakdown_drops_empty_gold_and_skips_missing_predictions():
    gold = {"has1": ["Denver", "a"], "has2": ["late 1890s"], "no1": [], "no2": [], "missing": ["x"]}
    predictions = {"has1": "Denver", "has2": "1890s", "no1": "", "no2": "the city"}
    scores = squad_scores(gold, predictions, version="2.0")
    # has1 EM 1 (gold "a" normalises to empty and is dropped); has2 F1 2/3; no1 1; no2 0; missing not scored.
    assert scores["total"] == 4 and scores["HasAns_total"] == 2 and scores["NoAns_total"] == 2
    assert scores["exact"] == 50.0 and scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1) / 4)
    assert scores["HasAns_exact"] == 50.0 and scores["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert scores["NoAns_exact"] == scores["NoAns_f1"] == 50.0


def test_null_odds_above_the_scripts_threshold_count_as_no_answer():
    gold = {"has": ["Denver"], "no": []}
    predictions = {"has": "Denver", "no": "Denver"}
    scores = squad_scores(gold, predictions, version="2.0", null_odds={"has": 0.5, "no": 1.5})
    assert scores["exact"] == 100.0  # "no" has odds 1.5 > 1.0: scored as no answer, which is right


def test_best_threshold_walks_questions_by_ascending_null_odds():
    has_answer = {"a": True, "b": False, "c": True, "d": False}
    predictions = {"a": "x", "b": "y", "c": "z", "d": ""}
    scores = {"a": 1.0, "b": 0.0, "c": 0.5, "d": 1.0}
    null_odds = {"a": -2.0, "b": -1.0, "c": 0.0, "d": 3.0}
    # Start at 2 (the unanswerable questions); a: +1 -> 3 (best, -2.0); b: answered wrongly -> 2; c: +0.5 -> 2.5;
    # d: empty prediction -> 2.5. Best 3 of 4 at threshold -2.0.
    assert best_threshold(predictions, scores, null_odds, has_answer) == (75.0, -2.0)
    result = squad_scores({"a": ["x"], "b": [], "c": ["z w"], "d": []}, predictions, "2.0", null_odds)
    assert result["best_exact"] == 75.0 and result["best_exact_thresh"] == -2.0
    assert (result["best_f1"], result["best_f1_thresh"]) == (75.0, -2.0)


def test_unknown_version_and_nothing_to_score_are_errors():
    with pytest.raises(ValueError, match="Unknown SQuAD version"):
        squad_scores({"q": ["a"]}, {"q": "a"}, version="3.0")
    with pytest.raises(ValueError, match="No question has a prediction"):
        squad_scores({"q": ["a"]}, {}, version="2.0")


def test_prediction_files_are_the_official_formats(tmp_path):
    paths = write_squad_predictions(tmp_path / "out", {"q1": "Zoë", "q2": ""}, {"q1": -1.5, "q2": 2.0})
    assert [path.name for path in paths] == ["predictions.json", "null_odds.json"]
    assert json.loads(paths[0].read_text(encoding="utf-8")) == {"q1": "Zoë", "q2": ""}
    assert json.loads(paths[1].read_text()) == {"q1": -1.5, "q2": 2.0}
    assert not list((tmp_path / "out").glob("*.partial"))
