import numpy as np
import pytest
import scipy.stats
from sklearn import metrics as sk

from electra_tf.data.glue import GLUE_TASKS
from electra_tf.evaluation import glue_average, glue_metrics, write_glue_predictions

HEADLINE = {  # the GLUE score of each task from its metrics, written out by hand
    "cola": lambda m: m["mcc"], "sst2": lambda m: m["accuracy"],
    "mrpc": lambda m: (m["f1"] + m["accuracy"]) / 2, "stsb": lambda m: (m["pearson"] + m["spearman"]) / 2,
    "qqp": lambda m: (m["f1"] + m["accuracy"]) / 2, "mnli": lambda m: m["accuracy"],
    "qnli": lambda m: m["accuracy"], "rte": lambda m: m["accuracy"], "wnli": lambda m: m["accuracy"],
    "ax": lambda m: m["mcc"],
}


def _random(name, seed=0, n=200):
    rng = np.random.default_rng(seed)
    if name == "stsb":
        labels = rng.uniform(0, 5, n)
        return labels + rng.normal(0, 1.5, n), labels
    classes = GLUE_TASKS[name].num_classes
    labels = rng.integers(0, classes, n)
    return np.where(rng.random(n) < 0.7, labels, rng.integers(0, classes, n)), labels


@pytest.mark.parametrize("name", list(GLUE_TASKS))
def test_metrics_equal_sklearn_and_scipy(name):
    predictions, labels = _random(name)
    metrics = glue_metrics(name, predictions, labels)
    if name in ("cola", "ax"):
        expected = {"mcc": sk.matthews_corrcoef(labels, predictions)}
    elif name == "stsb":
        expected = {"pearson": scipy.stats.pearsonr(predictions, labels)[0],
                    "spearman": scipy.stats.spearmanr(predictions, labels)[0]}
    elif name in ("mrpc", "qqp"):
        expected = {"accuracy": sk.accuracy_score(labels, predictions), "f1": sk.f1_score(labels, predictions)}
    else:
        expected = {"accuracy": sk.accuracy_score(labels, predictions)}
    assert set(metrics) == {*GLUE_TASKS[name].metric_names, "score"} == {*expected, "score"}
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(100 * value, abs=1e-9), key
        assert 0 < abs(metrics[key]) <= 100  # percentages, and the random predictions are informative
    assert metrics["score"] == pytest.approx(HEADLINE[name](metrics), abs=1e-9)
    assert all(isinstance(value, float) for value in metrics.values())


def test_logits_and_column_scores_are_accepted():
    predictions, labels = _random("mnli", seed=1)
    logits = np.eye(3)[predictions] * 2.0 - 0.5
    assert glue_metrics("mnli", logits, labels) == glue_metrics("mnli", predictions, labels)
    scores, targets = _random("stsb", seed=1)
    assert glue_metrics("STS-B", scores[:, None], targets) == glue_metrics("stsb", scores, targets)


def test_exact_small_cases():
    assert glue_metrics("rte", [0, 1, 1, 0], [0, 1, 0, 0]) == {"accuracy": 75.0, "score": 75.0}
    assert glue_metrics("cola", [1, 0, 1, 0], [1, 0, 1, 0]) == {"mcc": 100.0, "score": 100.0}
    qqp = glue_metrics("qqp", [1, 1, 0, 0], [1, 0, 0, 1])  # precision 1/2, recall 1/2
    assert qqp["accuracy"] == 50.0 and qqp["f1"] == pytest.approx(50.0) and qqp["score"] == pytest.approx(50.0)
    stsb = glue_metrics("stsb", [1.0, 2.0, 3.0], [2.0, 4.0, 6.5])
    assert stsb["spearman"] == pytest.approx(100.0) and stsb["pearson"] < 100.0
    constant = glue_metrics("stsb", [1.0, 1.0, 1.0], [0.0, 1.0, 2.0])
    assert np.isnan(constant["pearson"]) and np.isnan(constant["score"])


def test_metric_input_errors():
    with pytest.raises(ValueError, match="same non-zero number"):
        glue_metrics("sst2", [0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="same non-zero number"):
        glue_metrics("sst2", [], [])
    with pytest.raises(ValueError, match=r"labels must be class ids in \[0, 2\)"):
        glue_metrics("rte", [0, 1], [0, 2])
    with pytest.raises(ValueError, match=r"predictions must be class ids in \[0, 3\)"):
        glue_metrics("mnli", [0.5, 1], [0, 1])
    with pytest.raises(ValueError, match="has 3 classes; got logits of shape"):
        glue_metrics("mnli", np.zeros([2, 2]), [0, 1])
    with pytest.raises(ValueError, match="Unknown GLUE task 'glue'"):
        glue_metrics("glue", [0], [0])


def test_glue_average():
    assert glue_average({"cola": 60.0, "sst2": 90.0}) == 75.0
    # MNLI matched and mismatched count as one task.
    assert glue_average({"mnli-m": 80.0, "MNLI-mm": 82.0, "rte": 70.0}) == pytest.approx(75.5)
    assert glue_average({"mnli_matched": 80.0, "rte": 70.0}) == 75.0
    assert glue_average({"mnli": 81.0, "rte": 70.0}) == 75.5
    assert glue_average({"CoLA": {"mcc": 50.0, "score": 50.0}, "STS-B": {"score": 90.0}}) == 70.0
    with pytest.raises(ValueError, match="not part of the GLUE score"):
        glue_average({"ax": 40.0})
    with pytest.raises(ValueError, match="not both"):
        glue_average({"mnli": 80.0, "mnli_mismatched": 80.0})
    with pytest.raises(ValueError, match="given twice"):
        glue_average({"sst2": 90.0, "SST-2": 91.0})
    with pytest.raises(ValueError, match="Unknown GLUE task 'squad'"):
        glue_average({"squad": 90.0})
    with pytest.raises(ValueError, match="at least one"):
        glue_average({})


PREDICTION_FILES = {"cola": "CoLA.tsv", "sst2": "SST-2.tsv", "mrpc": "MRPC.tsv", "qqp": "QQP.tsv",
                    "qnli": "QNLI.tsv", "rte": "RTE.tsv", "wnli": "WNLI.tsv", "ax": "AX.tsv"}


@pytest.mark.parametrize("name", list(PREDICTION_FILES))
def test_prediction_files_use_leaderboard_names(name, tmp_path):
    names = GLUE_TASKS[name].label_names
    ids = [i % len(names) for i in range(5)]
    path = write_glue_predictions(name, ["10", "11", "12", 13, 14], ids, tmp_path / "out")
    assert path == tmp_path / "out" / PREDICTION_FILES[name]
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "index\tprediction" and lines[-1] == ""
    assert lines[1:-1] == [f"{index}\t{names[i]}" for index, i in zip([10, 11, 12, 13, 14], ids)]


def test_prediction_file_label_names_and_special_cases(tmp_path):
    write_glue_predictions("mnli", ["0", "1", "2"], [0, 1, 2], tmp_path, split="test_matched")
    assert (tmp_path / "MNLI-m.tsv").read_text() == "index\tprediction\n0\tentailment\n1\tneutral\n2\tcontradiction\n"
    write_glue_predictions("mnli", ["0"], [[0.1, 0.2, 3.0]], tmp_path, split="test_mismatched")
    assert (tmp_path / "MNLI-mm.tsv").read_text() == "index\tprediction\n0\tcontradiction\n"
    write_glue_predictions("qnli", ["0", "1"], [1, 0], tmp_path)
    assert (tmp_path / "QNLI.tsv").read_text() == "index\tprediction\n0\tnot_entailment\n1\tentailment\n"
    write_glue_predictions("cola", ["0", "1"], [1, 0], tmp_path)
    assert (tmp_path / "CoLA.tsv").read_text() == "index\tprediction\n0\t1\n1\t0\n"
    path = write_glue_predictions("stsb", ["0", "1", "2", "3"], [[-0.4], [2.71828], [5.7], [3.0]], tmp_path)
    assert path.name == "STS-B.tsv"
    assert path.read_text() == "index\tprediction\n0\t0.000\n1\t2.718\n2\t5.000\n3\t3.000\n"


def test_prediction_file_errors(tmp_path):
    with pytest.raises(ValueError, match=r"several test splits; pass split= one of \['test_matched', "
                                         r"'test_mismatched'\]"):
        write_glue_predictions("mnli", ["0"], [0], tmp_path)
    with pytest.raises(ValueError, match="is not a test split"):
        write_glue_predictions("rte", ["0"], [0], tmp_path, split="dev")
    with pytest.raises(ValueError, match="Got 2 indices and 1 predictions"):
        write_glue_predictions("rte", ["0", "1"], [0], tmp_path)
    with pytest.raises(ValueError, match=r"predictions must be class ids in \[0, 2\)"):
        write_glue_predictions("rte", ["0"], [2], tmp_path)
    assert not list(tmp_path.iterdir())
