"""The pre-training job: a corpus -> a trained generator + discriminator (or, with `objective="mlm"`, BERT's
masked-LM baseline) in a model directory.

Running the same job again on the same `output_dir` resumes from its newest checkpoint (same step, model,
optimizer and random states, and the data position: the input skips the batches already consumed); a larger
`num_steps` continues a finished run. On SIGTERM (a preemption) the run saves a checkpoint at the current step
and raises `electra_tf.training.checkpoints.Preempted`. Under multi-worker training only the chief writes into
`output_dir`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pathlib
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from electra_tf.config import ElectraConfig, bert_masking
from electra_tf.data.pretraining import CorpusSource, WholeWords, corpus_documents, pretraining_dataset
from electra_tf.models.directory import load_weights, read_config, read_task_info
from electra_tf.models.masked_lm import MaskedLMPretrainer
from electra_tf.models.pretrainer import ElectraPretrainer, MaskingPretrainer
from electra_tf.text.tokenizer import (VOCAB_FILE, WordPieceTokenizer, learn_vocabulary, load_tokenizer,
                                       special_token_ids, write_vocabulary)
from electra_tf.training.callbacks import StopAfterSteps, Throughput, progress_verbosity
from electra_tf.training.checkpoints import StepCheckpoint, restore_latest
from electra_tf.training.distribute import get_strategy, is_chief, written_by_chief
from electra_tf.training.optimization import create_optimizer
from electra_tf.training.recipes import PRETRAINING_WARMUP_PROPORTION

CHECKPOINT_DIR = "checkpoints"
METADATA_FILE = "training_metadata.json"
RUN_SETTINGS_FILE = "run_settings.json"  # what a resumed run must share with the one that started the directory
PRETRAINERS: dict[str, type[MaskingPretrainer]] = {"electra": ElectraPretrainer, "mlm": MaskedLMPretrainer}


@dataclasses.dataclass(frozen=True)
class PretrainingJob:
    """Everything one pre-training run needs; defaults are the paper's ELECTRA-Small settings."""

    source: CorpusSource
    output_dir: str  # becomes a model directory, plus checkpoints/ and logs/
    config: ElectraConfig | None = None  # architecture and objective; `init_from`'s when continuing
    objective: str = "electra"  # "electra" or "mlm" (BERT's masked LM on the same encoder, 80/10/10 masking)
    embedding_sharing: str | None = None  # overrides the config's: "tied", "untied" or "gdes" (ELECTRA only)
    mask_prob: float | None = None  # overrides the config's
    whole_words: WholeWords | None = None  # whole-word masking (and how Chinese text forms words); None: tokens
    vocab: str | None = None  # vocab.txt; or learn one (`learn_vocab_size`), or take init_from's
    learn_vocab_size: int | None = None
    init_from: str | None = None  # a model directory to continue pre-training from, with a fresh schedule
    num_steps: int = 1_000_000
    batch_size: int = 128  # global, per update
    seq_len: int = 128
    learning_rate: float = 5e-4
    warmup_steps: int | None = None  # default: the paper's share of the run (1%: 10k of 1M steps)
    lowercase: bool = True
    strategy: str = "default"
    tpu_address: str | None = None  # --strategy tpu: a TPU name or grpc:// address; None: the TPU VM's own
    mixed_precision: str | None = None  # "mixed_bfloat16" or "mixed_float16"
    jit_compile: bool = False
    grad_accum_steps: int = 1  # micro-batches per update: batch_size is split, not multiplied
    checkpoint_every: int = 1000  # steps between checkpoints (and epoch log lines)
    checkpoint_dir: str | None = None  # default: output_dir/checkpoints; any tf.io.gfile path (gs://...)
    seed: int = 0
    force: bool = False  # resume even if the output directory was started with other settings

    def __post_init__(self) -> None:
        if self.config is None and not self.init_from:
            raise ValueError("A pre-training job needs a config, or a model directory to continue (init_from).")
        if self.objective not in PRETRAINERS:
            raise ValueError(f"Unknown objective {self.objective!r}; choose one of {sorted(PRETRAINERS)}.")
        if self.objective == "mlm" and self.embedding_sharing not in (None, "tied"):
            raise ValueError("embedding_sharing applies to ELECTRA's two towers; the mlm objective has one.")
        if self.init_from and self.embedding_sharing is not None:
            raise ValueError("Continued pre-training keeps the model's embedding_sharing: do not set it.")

    @property
    def checkpoints(self) -> str:
        """Where the run's checkpoints are (shared storage for a multi-host run)."""
        return self.checkpoint_dir or os.path.join(self.output_dir, CHECKPOINT_DIR)

    @property
    def warmup(self) -> int:
        """The warm-up steps used: as given, else the paper's share of `num_steps`."""
        if self.warmup_steps is not None:
            return min(self.warmup_steps, self.num_steps)
        return round(PRETRAINING_WARMUP_PROPORTION * self.num_steps)

    def run_settings(self) -> dict:
        """What a resumed run must share with the run that started the output directory (`num_steps` may grow;
        the device setup, strategy, precision and checkpoint interval may change)."""
        changeable = {"output_dir", "num_steps", "strategy", "mixed_precision", "jit_compile", "checkpoint_every",
                      "checkpoint_dir", "tpu_address", "force"}
        settings = {key: value for key, value in dataclasses.asdict(self).items() if key not in changeable}
        return json.loads(json.dumps(settings, default=str))


def run_pretraining(job: PretrainingJob, verbose: int | None = None,
                    callbacks: Sequence[keras.callbacks.Callback] = ()) -> MaskingPretrainer:
    """Pre-trains (or resumes) and saves the result to `job.output_dir`; returns the pre-trainer.

    `verbose` is Keras's; by default the progress bar on a terminal, else a line per checkpoint interval.
    `callbacks` are added to the run's own (their epochs are checkpoint intervals).
    """
    verbose = progress_verbosity() if verbose is None else verbose
    # First: a multi-worker strategy must configure collective ops before TensorFlow initialises its context.
    strategy = get_strategy(job.strategy, job.tpu_address)
    output_dir = pathlib.Path(job.output_dir)
    _check_run_settings(job, output_dir)
    keras.utils.set_random_seed(job.seed)
    caller_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(job.mixed_precision or "float32")
    try:
        return _train(job, strategy, output_dir, verbose, callbacks)
    finally:  # the policy only applies to the models this run builds
        keras.mixed_precision.set_global_policy(caller_policy)


def _train(job: PretrainingJob, strategy: tf.distribute.Strategy, output_dir: pathlib.Path, verbose: int,
           callbacks: Sequence[keras.callbacks.Callback]) -> MaskingPretrainer:
    chief = is_chief(strategy)
    with written_by_chief(output_dir, chief) as write_dir:
        tokenizer = _tokenizer(job, output_dir, write_dir)
        with strategy.scope():
            pretrainer = _initial_model(job, tokenizer)
            pretrainer.compile(optimizer=create_optimizer(job.learning_rate, job.num_steps, job.warmup),
                               jit_compile=job.jit_compile)
            step = restore_latest(pretrainer, job.checkpoints)
        if step:
            print(f"Resumed from step {step} (checkpoint in {job.checkpoints}).")
        write_dir.mkdir(parents=True, exist_ok=True)
        (write_dir / RUN_SETTINGS_FILE).write_text(json.dumps(job.run_settings(), indent=2) + "\n")
        if job.seq_len > pretrainer.config.max_position_embeddings:
            raise ValueError(f"seq_len {job.seq_len} exceeds max_position_embeddings "
                             f"{pretrainer.config.max_position_embeddings}.")
        dataset = _distributed_input(job, tokenizer, strategy, skip_steps=step)
        # A Keras epoch is a logging interval of `checkpoint_every` steps; checkpoints count steps themselves.
        interval, first_epoch = min(job.checkpoint_every, job.num_steps), step // job.checkpoint_every
        checkpoint = StepCheckpoint(job.checkpoints, job.checkpoint_every, start_step=step, last_step=job.num_steps,
                                    is_chief=chief)
        with checkpoint.handling_sigterm():
            history = pretrainer.fit(
                dataset, initial_epoch=first_epoch, epochs=first_epoch + math.ceil((job.num_steps - step) / interval),
                steps_per_epoch=interval, shuffle=False, verbose=verbose,
                callbacks=[Throughput(), StopAfterSteps(job.num_steps - step), checkpoint,
                           keras.callbacks.TensorBoard(str(write_dir / "logs")), *callbacks])
        pretrainer.save_pretrained(write_dir, tokenizer)
        _write_metadata(write_dir, job, history.history)
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            print(f"Final weights digest: {weights_digest(pretrainer)} (equal on every worker)")
        return pretrainer


def _distributed_input(job: PretrainingJob, tokenizer: WordPieceTokenizer, strategy: tf.distribute.Strategy,
                       skip_steps: int) -> tf.distribute.DistributedDataset:
    """The training input: one pipeline per host reading its own share of the corpus, in batches of
    `batch_size / replicas` (the global batch is `batch_size`), resuming after `skip_steps` steps."""

    def host_dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
        replicas_per_pipeline = context.num_replicas_in_sync // context.num_input_pipelines
        return pretraining_dataset(job.source, tokenizer, max_length=job.seq_len,
                                   batch_size=context.get_per_replica_batch_size(job.batch_size), seed=job.seed,
                                   num_workers=context.num_input_pipelines, worker_index=context.input_pipeline_id,
                                   skip_batches=skip_steps * replicas_per_pipeline, whole_words=job.whole_words)

    return strategy.distribute_datasets_from_function(host_dataset)


def weights_digest(model: keras.Model) -> str:
    """A short SHA-256 of all of `model`'s weights: equal digests, bit-identical weights."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def _check_run_settings(job: PretrainingJob, output_dir: pathlib.Path) -> None:
    """Refuses to resume an output directory started with other settings (listing them) unless `job.force`."""
    path = output_dir / RUN_SETTINGS_FILE
    if not path.is_file() or job.force:
        return
    saved, settings = json.loads(path.read_text()), job.run_settings()
    differences = [f"{key}: {saved.get(key)!r} there, {settings.get(key)!r} now"
                   for key in sorted(set(saved) | set(settings)) if saved.get(key) != settings.get(key)]
    if differences:
        raise ValueError(f"{output_dir} holds a run started with other settings (" + "; ".join(differences)
                         + "). Use another output directory, or force to resume with the new settings.")


def _tokenizer(job: PretrainingJob, output_dir: pathlib.Path, write_dir: pathlib.Path) -> WordPieceTokenizer:
    """The job's vocabulary: given, inherited from `init_from`, or learned from the corpus once (written into
    `write_dir`; a resumed run reads it from `output_dir`)."""
    if job.init_from:
        inherited = load_tokenizer(job.init_from)
        if job.vocab and WordPieceTokenizer(job.vocab).vocabulary != inherited.vocabulary:
            raise ValueError(f"--vocab {job.vocab} does not match the vocabulary of {job.init_from}: "
                             "continued pre-training must keep the model's vocabulary.")
        return inherited
    if job.vocab:
        return WordPieceTokenizer(job.vocab, lowercase=job.lowercase)
    if not job.learn_vocab_size:
        raise ValueError("Give a vocabulary (vocab) or a size to learn one (learn_vocab_size).")
    learned = output_dir / VOCAB_FILE
    if not learned.is_file():  # learned once; a resumed run reuses it
        print(f"Learning a {job.learn_vocab_size}-token vocabulary from the corpus ...")
        lines = (line for document in corpus_documents(job.source) for line in document)
        vocabulary = learn_vocabulary(lines, job.learn_vocab_size, lowercase=job.lowercase)
        learned = write_dir / VOCAB_FILE
        write_vocabulary(vocabulary, learned)
        if len(vocabulary) != job.learn_vocab_size:
            print(f"Learned {len(vocabulary)} tokens, not {job.learn_vocab_size}: the corpus has too few word pieces "
                  "seen at least twice for more (a larger corpus gives more).")
    return WordPieceTokenizer(learned, lowercase=job.lowercase)


def _initial_model(job: PretrainingJob, tokenizer: WordPieceTokenizer) -> MaskingPretrainer:
    pretrainer_class = PRETRAINERS[job.objective]
    if job.init_from:
        config = read_config(job.init_from)
        saved = read_task_info(job.init_from)["task_type"]
        if saved != pretrainer_class.TASK_TYPE:
            raise ValueError(f"{job.init_from} holds a {saved!r} model, not a {pretrainer_class.TASK_TYPE!r} one: "
                             "continue it with the objective that made it.")
    else:
        config = dataclasses.replace(job.config, vocab_size=tokenizer.vocab_size,
                                     **special_token_ids(tokenizer))
        if job.objective == "mlm":
            config = bert_masking(config)
    if job.embedding_sharing is not None:
        config = dataclasses.replace(config, embedding_sharing=job.embedding_sharing)
    if job.mask_prob is not None:
        config = dataclasses.replace(config, mask_prob=job.mask_prob)
    pretrainer = pretrainer_class(config, seed=job.seed, grad_accum_steps=job.grad_accum_steps)
    if job.init_from:
        load_weights(pretrainer, job.init_from)
    return pretrainer


def _write_metadata(output_dir: pathlib.Path, job: PretrainingJob, history: dict[str, list[float]]) -> None:
    settings = {k: v for k, v in dataclasses.asdict(job).items() if k != "config"}
    metadata = {"job": settings,
                "used": {"warmup_steps": job.warmup, "checkpoints": job.checkpoints},  # as derived for the run
                "final_epoch_metrics": {k: float(v[-1]) for k, v in history.items() if v}}
    (output_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str) + "\n")
