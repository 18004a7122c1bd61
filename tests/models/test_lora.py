"""LoRA: only the adapters and the head train, the base stays bit-identical, adapters survive saving, reloading
and resuming (Keras's `load_weights` would zero them), and the merged export equals the unmerged model."""

import os
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.export.serving import export_model_directory
from electra_tf.models import lora
from electra_tf.models.base import load_encoder
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.tasks.glue import GlueFinetuning
from electra_tf.training.checkpoints import Preempted
from electra_tf.training.finetune import FinetuningJob, run_finetuning
from tests.test_case import AtStep, save_random_pretrainer, write_synthetic_sst2

SETTINGS = lora.LoraSettings(rank=4, alpha=8.0)
TEXTS = ["The queen came to the king.", "It was a fine morning in Bath.", ""]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pretrained")
    save_random_pretrainer(directory, seed=0)
    write_synthetic_sst2(directory.parent / "glue")
    return directory


def _job(pretrained, output_dir, **overrides) -> FinetuningJob:
    return FinetuningJob(**{**dict(model_dir=str(pretrained), output_dir=str(output_dir), num_steps=13,
                                   batch_size=64, max_length=16, learning_rate=1e-2, lora=SETTINGS), **overrides})


def _task(pretrained) -> GlueFinetuning:
    return GlueFinetuning("sst2", data_dir=pretrained.parent / "glue")


def _adapters(model) -> list[np.ndarray]:
    return [variable.numpy() for variable in lora.adapter_variables(model)]


def _frozen(model) -> list[np.ndarray]:
    """Every encoder weight but the adapters, LoRA layers' base kernels included."""
    adapters = {id(variable) for variable in lora.adapter_variables(model)}
    return [variable.numpy() for variable in model.encoder.weights if id(variable) not in adapters]


@pytest.fixture(scope="module")
def finetuned(pretrained, tmp_path_factory):
    output = tmp_path_factory.mktemp("lora")
    return output, run_finetuning(_task(pretrained), _job(pretrained, output))


def test_only_adapters_and_head_train_and_the_base_stays_bit_identical(pretrained, finetuned):
    output, results = finetuned
    model = lora.load_with_adapters(output / "model")
    assert model.lora == SETTINGS and results["settings"]["lora"]["rank"] == 4
    base = load_encoder(pretrained)
    for ours, theirs in zip(_frozen(model), base.get_weights()):
        np.testing.assert_array_equal(ours, theirs)  # bit for bit, LoRA layers' kernels included
    assert all(np.abs(b).max() > 0 for b in _adapters(model)[1::2])  # B starts at zero: it trained
    head = sum(v.numpy().size for v in model.weights) - sum(v.numpy().size for v in model.encoder.weights)
    adapter_count = sum(a.size for a in _adapters(model))
    assert results["parameters"]["trainable"] == adapter_count + head
    assert results["parameters"]["trainable_share"] < 0.25
    print(f"LoRA rank 4 on query/value: {results['parameters']['trainable']:,} of "
          f"{results['parameters']['total']:,} weights train ({100 * results['parameters']['trainable_share']:.1f}%)")


def test_merged_model_directory_and_export_equal_the_unmerged_model(finetuned, tmp_path):
    output, _ = finetuned
    unmerged = lora.load_with_adapters(output / "model")
    expected = keras.ops.softmax(unmerged(TEXTS)).numpy()
    merged = ElectraClassifier.from_pretrained(output / "model")  # a plain model: no adapter code
    assert merged.lora is None
    np.testing.assert_allclose(keras.ops.softmax(merged(TEXTS)).numpy(), expected, atol=1e-5)
    saved_model = export_model_directory(output / "model", tmp_path / "saved")
    served = tf.saved_model.load(str(saved_model)).signatures["serving_default"](text=tf.constant(TEXTS))
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)


def test_checkpointed_adapters_come_back_and_keep_training(pretrained, tmp_path):
    """Keras's `load_weights` zeroes A and B (then neither gets a gradient); `lora.load_weights` restores them."""
    model = ElectraClassifier.from_pretrained(pretrained, num_labels=2, sequence_length=16)
    lora.enable_lora(model, SETTINGS)
    for variable in lora.adapter_variables(model):
        variable.assign(np.random.default_rng(0).normal(size=variable.shape).astype("float32") * 0.1)
    lora.save_weights(model, str(tmp_path / "model.weights.h5"))

    restored = ElectraClassifier.from_pretrained(pretrained, num_labels=2, sequence_length=16)
    lora.enable_lora(restored, SETTINGS)
    lora.load_weights(restored, str(tmp_path / "model.weights.h5"))
    for ours, theirs in zip(_adapters(restored) + _frozen(restored), _adapters(model) + _frozen(model)):
        np.testing.assert_array_equal(ours, theirs)
    restored.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    before = _adapters(restored)
    restored.fit(tf.constant(TEXTS * 4), np.array([1, 0, 0] * 4), epochs=1, verbose=0)
    assert all(np.abs(after - earlier).max() > 0 for after, earlier in zip(_adapters(restored), before))
    with pytest.raises(ValueError, match="zero the adapters"):
        (tmp_path / "model.weights.h5.lora.npz").unlink()
        lora.load_weights(restored, str(tmp_path / "model.weights.h5"))


def test_a_preempted_lora_run_resumes_to_the_same_adapters(pretrained, finetuned, tmp_path):
    _, whole = finetuned
    with pytest.raises(Preempted, match="step 12"):
        run_finetuning(_task(pretrained), _job(pretrained, tmp_path),
                       callbacks=[AtStep(11, lambda: os.kill(os.getpid(), signal.SIGTERM))])
    resumed = run_finetuning(_task(pretrained), _job(pretrained, tmp_path))
    assert resumed["runs"][0]["dev"]["dev"] == pytest.approx(whole["runs"][0]["dev"]["dev"], abs=1e-6)
    for ours, theirs in zip(_adapters(lora.load_with_adapters(tmp_path / "model")),
                            _adapters(lora.load_with_adapters(finetuned[0] / "model"))):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_reloaded_adapters_train_further_on_the_frozen_base(finetuned):
    model = lora.load_with_adapters(finetuned[0] / "model")
    frozen, before = _frozen(model), _adapters(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(tf.constant(TEXTS * 4), np.array([1, 0, 0] * 4), epochs=2, verbose=0)
    assert all(np.abs(after - earlier).max() > 0 for after, earlier in zip(_adapters(model), before))
    for ours, theirs in zip(_frozen(model), frozen):
        np.testing.assert_array_equal(ours, theirs)
    assert model.encoder.transformer_layers[0]._self_attention_layer._query_dense.lora_alpha == 8.0


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="rank must be at least 1"):
        lora.LoraSettings(rank=0)
    with pytest.raises(ValueError, match="targets must be some of"):
        lora.LoraSettings(rank=4, targets=("query", "gate"))
    with pytest.raises(FileNotFoundError, match="not fine-tuned with LoRA"):
        lora.load_with_adapters(tmp_path)
