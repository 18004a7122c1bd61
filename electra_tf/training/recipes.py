"""The paper's settings, in one table that the recipes, the CLI and the jobs read (Clark et al. 2020,
https://arxiv.org/abs/2003.10555, Appendix A; google-research/electra `configure_pretraining.py` and
`configure_finetuning.py`). A value given to a job or on the command line replaces the table's.
"""

from __future__ import annotations

import dataclasses

from electra_tf.config import ElectraConfig


@dataclasses.dataclass(frozen=True)
class PretrainingRecipe:
    """Pre-training settings of one model size (mask rate, generator size and architecture come with the preset)."""

    batch_size: int
    learning_rate: float
    num_steps: int
    seq_len: int
    warmup_steps: int = 10_000


# Pre-training warm-up when none is given in steps: the paper's 10,000 of 1,000,000 steps.
PRETRAINING_WARMUP_PROPORTION = 0.01

PRETRAINING = {
    "small": PretrainingRecipe(128, 5e-4, 1_000_000, 128),
    "small++": PretrainingRecipe(128, 5e-4, 1_000_000, 128),
    "base": PretrainingRecipe(256, 2e-4, 766_000, 512),
    "large": PretrainingRecipe(2048, 2e-4, 400_000, 512),
}

# --- Fine-tuning ---
LEARNING_RATE = {"small": 3e-4, "base": 1e-4, "large": 5e-5}
LAYERWISE_LR_DECAY = {"small": 0.8, "base": 0.8, "large": 0.9}
EPOCHS = 3
# Tasks that differ from EPOCHS (AX is predicted, not trained).
TASK_EPOCHS = {"rte": 10, "stsb": 10, "ax": 0, "squad": 2}
BATCH_SIZE = 32
MAX_LENGTH = 128
TASK_MAX_LENGTH = {"ner": 256, "squad": 512}  # the original's tagging (chunking) and QA lengths
# The original trains taggers on BIOES tags (`tagging_tasks.py`); the CLI's default is BIO.
ORIGINAL_TAGGING_SCHEME = "bioes"
WARMUP_PROPORTION = 0.1
WEIGHT_DECAY = 0.0  # the paper fine-tunes without weight decay


@dataclasses.dataclass(frozen=True)
class FinetuningRecipe:
    """Fine-tuning settings of one task and model size."""

    learning_rate: float
    layerwise_lr_decay: float
    epochs: int
    batch_size: int = BATCH_SIZE
    max_length: int = MAX_LENGTH
    warmup_proportion: float = WARMUP_PROPORTION
    weight_decay: float = WEIGHT_DECAY


def model_size(config: ElectraConfig) -> str:
    """`small`, `base` or `large`, by the encoder's width (256, 768, 1024 in the paper)."""
    return "large" if config.hidden_size >= 1024 else "base" if config.hidden_size >= 768 else "small"


def finetuning_recipe(task: str, config: ElectraConfig) -> FinetuningRecipe:
    """The paper's settings for fine-tuning a model of `config`'s size on `task`."""
    size = model_size(config)
    return FinetuningRecipe(learning_rate=LEARNING_RATE[size], layerwise_lr_decay=LAYERWISE_LR_DECAY[size],
                            epochs=TASK_EPOCHS.get(task, EPOCHS), max_length=TASK_MAX_LENGTH.get(task, MAX_LENGTH))
