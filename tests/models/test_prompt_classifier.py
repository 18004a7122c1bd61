"""Prompt-based classification with the RTD head: label scores are the discriminator's own judgement of each label
word in the filled template, zero-shot runs on SST-2 dev from a converted checkpoint, few-shot trains the scores."""

import pathlib

import keras
import numpy as np
import pytest

from electra_tf.convert.checkpoint import convert_checkpoint
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.prompt_classifier import ElectraPromptClassifier, prompt_classifier
from electra_tf.tasks.prompting import PromptFinetuning
from electra_tf.text.preprocessor import ElectraPreprocessor
from electra_tf.training.finetune import FinetuningJob, run_finetuning
from tests.test_case import SHARED_DATA, save_random_pretrainer, write_synthetic_sst2

HF_DISCRIMINATOR = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "hf" / "discriminator"
GLUE = SHARED_DATA / "glue"
TEMPLATE = "{text} It was {word}."
WORDS = ["terrible", "great", "quite good"]
TEXTS = ["What a lovely, sunny morning!", "The queen was not amused by the king's long speech.", ""]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pretrained")
    save_random_pretrainer(directory, seed=0)
    return directory


def test_label_scores_are_minus_the_discriminators_mean_rtd_logit_on_the_word(pretrained):
    model = prompt_classifier(pretrained, TEMPLATE, WORDS, sequence_length=64)
    tokenizer = model.preprocessor.tokenizer
    discriminator, preprocessor = ElectraDiscriminator.from_pretrained(pretrained), ElectraPreprocessor(tokenizer, 64)
    expected = np.zeros((len(TEXTS), len(WORDS)))
    for row, text in enumerate(TEXTS):
        for label, word in enumerate(WORDS):
            rtd_logits = discriminator(preprocessor([TEMPLATE.format(text=text, word=word)])).numpy()[0]
            start = 1 + len(tokenizer.tokenize(TEMPLATE.split("{word}")[0].format(text=text)).numpy())
            expected[row, label] = -rtd_logits[start:start + len(tokenizer.tokenize(word).numpy())].mean()
    scores = model(TEXTS).numpy()
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    # The predicted label is the word the discriminator finds least likely to be replaced.
    single_piece = [label for label, word in enumerate(WORDS) if len(tokenizer.tokenize(word).numpy()) == 1]
    replaced_probability = 1 / (1 + np.exp(expected[:, single_piece]))
    assert (scores[:, single_piece].argmax(axis=1) == (-replaced_probability).argmax(axis=1)).all()


def test_a_saved_prompt_classifier_keeps_its_template_words_and_head(pretrained, tmp_path):
    model = prompt_classifier(pretrained, TEMPLATE, WORDS, label_names=["neg", "pos", "ok"], sequence_length=32)
    model.save_pretrained(tmp_path / "prompt")
    loaded = ElectraPromptClassifier.from_pretrained(tmp_path / "prompt")
    assert loaded.label_names == ["neg", "pos", "ok"] and loaded.preprocessor.label_words == WORDS
    np.testing.assert_allclose(loaded(TEXTS).numpy(), model(TEXTS).numpy(), atol=1e-6)


@pytest.mark.skipif(not (GLUE / "SST-2").is_dir(), reason="needs the shared GLUE data")
def test_zero_shot_on_sst2_dev_from_a_converted_hugging_face_discriminator(tmp_path):
    assert convert_checkpoint("hf", HF_DISCRIMINATOR, tmp_path / "converted") == "discriminator"
    task = PromptFinetuning("sst2", GLUE, TEMPLATE, ["small", "big"])  # words of the fixture's 64-word vocabulary
    metrics = task.zero_shot(str(tmp_path / "converted"), sequence_length=32)  # the fixture has 40 positions
    predictions = task.predict(task.new_model(str(tmp_path / "converted"), 32), task.dev, 32).argmax(axis=1)
    assert len(task.dev) == 872 and metrics["accuracy"] == pytest.approx(100 * np.mean(predictions == task.dev.labels))
    print(f"SST-2 dev, the random tiny Hugging Face fixture: zero-shot {metrics['accuracy']:.1f}%, "
          f"majority {task.majority_accuracy():.1f}%")


def test_few_shot_training_fits_the_rtd_scores_to_the_labels_on_the_runner(pretrained, tmp_path):
    """Cross-entropy over the candidates' scores trains the discriminator itself (no new head) to put the right
    word first. From random weights 32 examples are learnt, not generalised: README reports real few-shot runs."""
    write_synthetic_sst2(tmp_path / "glue")  # label: the sentence mentions the queen or the king
    task = PromptFinetuning("sst2", tmp_path / "glue", "{text} Royal: {word}.", ["no", "yes"], shots_per_class=16)
    assert len(task.train) == 32 and np.bincount(task.train.labels).tolist() == [16, 16]
    assert not set(task.train.texts[0]) & set(task.few_shot_dev.texts[0])  # LM-BFF's disjoint few-shot dev set
    model = task.new_model(str(pretrained), 48)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = task.evaluate(model, task.train, 8)["accuracy"]
    # Repeated, so that the 30 epochs share one iterator: each new one costs 0.6 s of set-up (tokenizer tables).
    history = model.fit(task.dataset(task.train, model, 8, shuffle=True, seed=0).repeat(), steps_per_epoch=4,
                        epochs=30, verbose=0).history
    assert history["loss"][-1] < 0.1 * history["loss"][0]
    assert task.evaluate(model, task.train, 8)["accuracy"] == 100.0 and before <= 75.0
    results = run_finetuning(task, FinetuningJob(model_dir=str(pretrained), output_dir=str(tmp_path / "out"),
                                                 num_steps=8, batch_size=8, max_length=48))
    assert set(results["median"]) == {"few_shot_dev", "dev"} and results["settings"]["shots_per_class"] == 16
    assert results["parameters"]["trainable"] == results["parameters"]["total"]  # no head was added
    assert ElectraPromptClassifier.from_pretrained(tmp_path / "out" / "model").preprocessor.label_words == ["no", "yes"]
