"""The pre-training job: corpus files -> trained generator + discriminator in a model directory."""

from __future__ import annotations

import dataclasses
import os
import pathlib

import keras
import numpy as np
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.data.pretraining import pretraining_dataset
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text.tokenizer import WordPieceTokenizer
from electra_tf.training.distribute import get_strategy
from electra_tf.training.optimization import create_optimizer


@dataclasses.dataclass(frozen=True)
class PretrainingJob:
    """Everything one pre-training run needs; defaults are the paper's ELECTRA-Small settings."""

    config: ElectraConfig
    train_files: str  # glob of text files: a sentence per line, blank line between documents
    vocab: str  # vocab.txt
    output_dir: str  # becomes a model directory (config.json, vocab.txt, model.weights.h5) + logs/
    num_steps: int = 1_000_000
    batch_size: int = 128
    seq_len: int = 128
    learning_rate: float = 5e-4
    warmup_steps: int = 10_000
    lowercase: bool = True
    strategy: str = "default"
    mixed_precision: str | None = None  # "mixed_bfloat16" or "mixed_float16"
    jit_compile: bool = False
    grad_accum_steps: int = 1  # micro-batches per update: batch_size is split, not multiplied
    log_every: int = 100  # steps per Keras "epoch": how often logs are written
    seed: int = 0


def run_pretraining(job: PretrainingJob) -> ElectraPretrainer:
    """Pre-trains on `job.train_files` and saves the result to `job.output_dir`; returns the pre-trainer."""
    keras.utils.set_random_seed(job.seed)
    keras.mixed_precision.set_global_policy(job.mixed_precision or "float32")
    tokenizer = WordPieceTokenizer(job.vocab, lowercase=job.lowercase)
    config = dataclasses.replace(
        job.config, vocab_size=tokenizer.vocab_size, pad_token_id=tokenizer.pad_token_id,
        cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
        mask_token_id=tokenizer.mask_token_id)
    if job.seq_len > config.max_position_embeddings:
        raise ValueError(f"seq_len {job.seq_len} exceeds max_position_embeddings {config.max_position_embeddings}.")
    strategy = get_strategy(job.strategy)
    dataset = pretraining_dataset(job.train_files, tokenizer, max_length=job.seq_len,
                                  batch_size=job.batch_size, seed=job.seed)
    with strategy.scope():
        pretrainer = ElectraPretrainer(config, seed=job.seed, grad_accum_steps=job.grad_accum_steps)
        pretrainer.compile(
            optimizer=create_optimizer(job.learning_rate, job.num_steps, min(job.warmup_steps, job.num_steps)),
            jit_compile=job.jit_compile)
    steps_per_epoch = min(job.log_every, job.num_steps)
    output_dir = pathlib.Path(job.output_dir)
    pretrainer.fit(
        dataset, epochs=job.num_steps // steps_per_epoch, steps_per_epoch=steps_per_epoch,
        callbacks=[keras.callbacks.TensorBoard(str(output_dir / "logs"))], verbose=2)
    pretrainer.save_pretrained(output_dir, tokenizer)
    return pretrainer


def replaced_token_probabilities(pretrainer: ElectraPretrainer, tokenizer: WordPieceTokenizer,
                                 sentence: str) -> list[tuple[str, float]]:
    """The discriminator's probability that each WordPiece of `sentence` was replaced."""
    ids = tokenizer.tokenize([sentence]).to_list()[0]
    ids = [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]
    inputs = {"token_ids": np.array([ids], np.int32), "segment_ids": np.zeros((1, len(ids)), np.int32),
              "padding_mask": np.ones((1, len(ids)), np.int32)}
    probabilities = tf.sigmoid(tf.cast(pretrainer.discriminator(inputs), tf.float32))[0].numpy()
    return [(tokenizer.id_to_token(i), float(p)) for i, p in zip(ids, probabilities)][1:-1]
