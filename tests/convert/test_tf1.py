"""Original TF1 checkpoints: written here with the original variable names, loaded, and checked against the
same weights loaded through the Hugging Face route."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.convert import hf, tf1

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "hf"
REFERENCE = np.load(FIXTURES / "outputs.npz")
INPUTS = {"token_ids": REFERENCE["input_ids"], "segment_ids": REFERENCE["token_type_ids"],
          "padding_mask": REFERENCE["attention_mask"]}


def _write_tf1_checkpoint(prefix: pathlib.Path) -> None:
    """The HF fixture's discriminator under the original names and layouts, plus what real checkpoints also hold."""
    tensors = {}
    for name, value in hf.read_safetensors(FIXTURES / "discriminator").items():
        original = tf1.tf1_name(name)
        tensors[original] = value.T if original.endswith("/kernel") else value
        tensors[f"{original}/adam_m"] = np.zeros_like(tensors[original])
    tensors["global_step"] = np.array(1000, np.int64)
    tensors["generator/encoder/layer_0/output/dense/bias"] = np.zeros(16, np.float32)
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[name]) for name in names])


def test_tf1_checkpoint_matches_the_huggingface_route(tmp_path):
    _write_tf1_checkpoint(tmp_path / "model.ckpt-1000")
    reference, config, _ = hf.load_discriminator(FIXTURES / "discriminator")
    discriminator = tf1.load_discriminator(tmp_path / "model.ckpt-1000", config)
    np.testing.assert_array_equal(discriminator(INPUTS).numpy(), reference(INPUTS).numpy())
    for a, b in zip(discriminator.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_missing_or_mismatched_checkpoints_are_named(tmp_path):
    _, config, _ = hf.load_discriminator(FIXTURES / "discriminator")
    with pytest.raises(FileNotFoundError, match="No readable TF1 checkpoint"):
        tf1.load_discriminator(tmp_path / "nothing", config)
    _write_tf1_checkpoint(tmp_path / "model.ckpt-1000")
    import dataclasses
    wider = dataclasses.replace(config, intermediate_size=38)
    with pytest.raises(ValueError, match="intermediate.dense.weight has shape \\(37, 32\\), the model needs \\(32, 38\\)"):
        tf1.load_discriminator(tmp_path / "model.ckpt-1000", wider)


def test_convert_a_tf1_checkpoint_needs_config_and_vocabulary(tmp_path):
    from electra_tf.convert.checkpoint import convert_checkpoint

    _write_tf1_checkpoint(tmp_path / "model.ckpt-1000")
    _, config, _ = hf.load_discriminator(FIXTURES / "discriminator")
    with pytest.raises(ValueError, match="give both"):
        convert_checkpoint("tf1", tmp_path / "model.ckpt-1000", tmp_path / "ours", config=config)
    kind = convert_checkpoint("tf1", tmp_path / "model.ckpt-1000", tmp_path / "ours", config=config,
                              vocab=FIXTURES / "discriminator" / "vocab.txt")
    assert kind == "discriminator" and (tmp_path / "ours" / "model.weights.h5").is_file()


def test_a_tf1_pretraining_checkpoint_restores_both_towers_and_the_sharing(tmp_path):
    from electra_tf.models.pretrainer import ElectraPretrainer
    from tests.test_case import random_batch, tiny_config

    config = tiny_config()
    original = ElectraPretrainer(config)
    links = hf.discriminator_links(original.discriminator) + [
        link for link in hf.generator_links(original.generator, prefix="generator.")
        if not link.name.startswith("generator.embeddings.")]
    tensors = {}
    for name, value in hf.export_tensors(links).items():
        tensors[tf1.tf1_name(name)] = value.T if tf1.tf1_name(name).endswith("/kernel") else value
    assert "generator/encoder/layer_0/attention/self/query/kernel" in tensors
    assert "generator_predictions/output_bias" in tensors and "electra/embeddings/word_embeddings" in tensors
    tensors["global_step"] = np.array(7, np.int64)
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=str(tmp_path / "model.ckpt-7"), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[name]) for name in names])
    restored = tf1.load_pretrainer(tmp_path / "model.ckpt-7", config)
    assert restored.generator.encoder.embeddings is restored.discriminator.encoder.embeddings
    batch = random_batch()
    np.testing.assert_array_equal(restored(batch, step=1).mlm_logits.numpy(), original(batch, step=1).mlm_logits.numpy())
    np.testing.assert_array_equal(restored(batch, step=1).rtd_logits.numpy(), original(batch, step=1).rtd_logits.numpy())
    _write_tf1_checkpoint(tmp_path / "partial.ckpt")  # a discriminator plus one stray generator tensor
    with pytest.raises(ValueError, match="missing \\['generator/embeddings_project/bias'"):
        tf1.load_pretrainer(tmp_path / "partial.ckpt", config)
