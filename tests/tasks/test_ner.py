"""NER end to end on the shared runner: results.json, CoNLL prediction files that score the same, the CLI."""

import json

import pytest

from electra_tf.data.ner import read_conll
from electra_tf.evaluation.ner import entity_scores
from electra_tf.models.token_classifier import ElectraTokenClassifier
from electra_tf.tasks.ner import NerFinetuning
from electra_tf.training.finetune import FinetuningJob, run_finetuning
from tests.test_case import save_random_pretrainer, write_gazetteer_ner


@pytest.fixture(scope="module")
def gazetteer_ner(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner")
    write_gazetteer_ner(root)
    save_random_pretrainer(root / "pretrained", seed=0)
    return root


@pytest.mark.parametrize("crf, scheme", [(False, "bio"), (True, "bioes")])
def test_ner_learns_and_its_prediction_files_score_as_results(gazetteer_ner, tmp_path, crf, scheme):
    task = NerFinetuning(gazetteer_ner, scheme=scheme, crf=crf)
    results = run_finetuning(task, FinetuningJob(
        model_dir=str(gazetteer_ner / "pretrained"), output_dir=str(tmp_path), num_steps=120, batch_size=16,
        learning_rate=2e-3, max_length=24))
    print(f"{scheme} crf={crf}: dev F1 {results['median']['dev']['f1']:.1f}, test {results['median']['test']['f1']:.1f}")
    # An untrained tagger scores about 0; seeds of the starting weights give 79-91 after these 120 steps.
    assert results["median"]["dev"]["f1"] > 70 and results["median"]["test"]["f1"] > 70
    assert results["settings"]["max_length"] == 24 and results["settings"]["scheme"] == scheme
    saved = json.loads((tmp_path / "results.json").read_text())
    for split in ("dev", "test"):  # the written files score exactly what results.json says
        predictions = read_conll(tmp_path / "predictions" / f"{split}.txt", tag_column=2)
        gold = read_conll(tmp_path / "predictions" / f"{split}.txt", tag_column=1)
        assert gold.words == read_conll(gazetteer_ner / f"{split}.txt").words
        rescored = entity_scores(gold.tags_in("iob1"), predictions.tags_in("iob1"))
        assert rescored == pytest.approx(saved["median"][split])
        assert predictions.scheme == "iob1"  # written in the file's own scheme
    model = ElectraTokenClassifier.from_pretrained(tmp_path / "model")
    expected = ["O", *(f"{p}-{t}" for t in ("LOC", "PER") for p in ("B", "I", "E", "S")[:2 + 2 * (scheme == "bioes")])]
    assert model.label_names == expected and (model.crf is not None) == crf
    assert model.preprocessor.sequence_length == 24


def test_unknown_tags_in_dev_are_refused_before_training(gazetteer_ner, tmp_path):
    (tmp_path / "dev.txt").write_text("Rome I-LOC\nis O\n\nZeus I-GOD\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dev.txt:4: tag 'I-GOD'"):
        NerFinetuning(train_file=str(gazetteer_ner / "train.txt"), dev_file=str(tmp_path / "dev.txt"))


def test_missing_files_are_named(tmp_path):
    (tmp_path / "eng.train").write_text("Rome I-LOC\n", encoding="utf-8")
    with pytest.raises(ValueError, match="No dev file"):
        NerFinetuning(tmp_path)
