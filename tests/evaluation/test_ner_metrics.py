"""Entity scores with conlleval's semantics, on the cases that separate it from other scorers."""

import os
import pathlib
import random
import re
import shutil
import subprocess

import pytest

from electra_tf.evaluation.ner import entity_scores, write_conll_predictions


def _counts(gold, predicted):
    scores = entity_scores(gold, predicted)
    return scores["gold_entities"], scores["predicted_entities"], scores["correct_entities"]


@pytest.mark.parametrize("gold, predicted, expected", [
    (["O", "B-PER", "I-PER"], ["O", "I-PER", "I-PER"], (1, 1, 1)),
    (["B-PER", "B-LOC"], ["B-PER", "I-LOC"], (2, 2, 2)),
    (["B-PER", "I-PER", "O"], ["B-PER", "I-ORG", "O"], (1, 2, 0)),
    (["B-LOC", "I-LOC", "I-LOC"], ["B-LOC", "I-LOC", "O"], (1, 1, 0)),
])
def test_conlleval_cases(gold, predicted, expected):
    assert _counts([gold], [predicted]) == expected


def test_a_sentence_boundary_between_two_i_tags_makes_two_chunks():
    assert _counts([["O", "I-PER"], ["I-PER", "O"]], [["O", "I-PER"], ["I-PER", "O"]]) == (2, 2, 2)
    assert _counts([["I-PER", "I-PER"]], [["I-PER", "I-PER"]]) == (1, 1, 1)


def test_scores_per_type_and_accuracy():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-LOC"]]
    scores = entity_scores(gold, predicted)
    assert (scores["precision"], scores["recall"]) == (50.0, pytest.approx(200 / 3))
    assert scores["f1"] == pytest.approx(2 * 50 * 200 / 3 / (50 + 200 / 3)) == scores["score"]
    assert scores["accuracy"] == pytest.approx(100 * 4 / 6)  # O tokens count
    assert scores["f1_PER"] == 100.0 and scores["f1_LOC"] == 0.0 and scores["precision_ORG"] == 50.0
    assert entity_scores([["O"]], [["O"]])["f1"] == 0.0  # zero denominators give 0


def test_mismatched_sentences_are_refused():
    with pytest.raises(ValueError, match="Sentence 0: 2 gold tags but 1 predicted"):
        entity_scores([["O", "O"]], [["O"]])


def _conlleval_script() -> pathlib.Path | None:
    # conlleval.pl is not shipped (no licence covers it); point CONLLEVAL at a copy to run this check.
    path = os.environ.get("CONLLEVAL")
    return pathlib.Path(path) if path and shutil.which("perl") else None


@pytest.mark.skipif(_conlleval_script() is None, reason="set CONLLEVAL to a copy of conlleval.pl")
def test_the_prediction_file_scores_the_same_in_conlleval(tmp_path):
    rng = random.Random(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-creative-work", "I-creative-work", "I-ORG"]
    for trial in range(100):
        gold = [[rng.choice(tags) for _ in range(rng.randint(1, 7))] for _ in range(rng.randint(1, 6))]
        predicted = [[rng.choice(tags) for _ in sentence] for sentence in gold]
        path = write_conll_predictions(tmp_path / f"{trial}.txt", [["w"] * len(s) for s in gold], gold, predicted)
        with open(path) as f:
            report = subprocess.run(["perl", str(_conlleval_script())], stdin=f, capture_output=True, text=True).stdout
        found = re.search(r"with (\d+) phrases; found: (\d+) phrases; correct: (\d+)", report)
        assert tuple(map(int, found.groups())) == _counts(gold, predicted)
        scores = entity_scores(gold, predicted)
        for name, printed in re.findall(r"(accuracy|precision|recall|FB1):\s+([\d.]+)", report.splitlines()[1]):
            assert f"{scores['f1' if name == 'FB1' else name]:.2f}" == printed


def test_prediction_files_hold_word_gold_predicted(tmp_path):
    path = write_conll_predictions(tmp_path / "out" / "test.txt", [["New York", "rocks"]], [["B-LOC", "O"]],
                                   [["B-LOC", "B-PER"]])
    assert path.read_text() == "New_York B-LOC B-LOC\nrocks O B-PER\n\n"
    assert not list(path.parent.glob("*.partial"))
