"""Zero-shot and few-shot classification with the discriminator's RTD head (`ElectraPromptClassifier`) as a task
for the one runner: a single-text GLUE task (SST-2 by default) read from its tsv files."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from electra_tf.data.glue import GlueSplit, get_task, read_glue_tsv, sample_per_class
from electra_tf.models.prompt_classifier import ElectraPromptClassifier, prompt_classifier
from electra_tf.tasks.classification import InMemoryClassificationTask
from electra_tf.text.prompting import DEFAULT_LABEL_WORDS, DEFAULT_TEMPLATE

# Few-shot defaults (LM-BFF / Xia et al. train a few hundred steps of batch 8 on 16 examples per label).
FEW_SHOT_EPOCHS = 20
FEW_SHOT_BATCH_SIZE = 8


class PromptFinetuning(InMemoryClassificationTask):
    """A single-text classification task scored by a template and label words.

    Zero-shot, `zero_shot` scores the pre-trained discriminator on dev as it is. Few-shot (Xia et al.'s method,
    with LM-BFF's protocol), `run_finetuning` trains the same scores with cross-entropy on `shots_per_class`
    training examples per label, selecting epochs on a disjoint few-shot dev set of the same size; the full dev
    set is scored too (`dev`).

    Args:
        task: str. A single-text GLUE classification task (`sst2`, `cola`).
        data_dir: path. The GLUE root in the standard tsv layout.
        template: str. With `{text}` and `{word}`.
        label_words: sequence of str. One per label, in the task's label order.
        shots_per_class: int or None. Few-shot examples per label; None: zero-shot only (no training data).
        seed: int. Draws the few-shot examples.
    """

    def __init__(self, task: str, data_dir: str | os.PathLike, template: str = DEFAULT_TEMPLATE,
                 label_words: Sequence[str] = DEFAULT_LABEL_WORDS, shots_per_class: int | None = None,
                 seed: int = 0):
        glue_task = get_task(task)
        if glue_task.text_pair or glue_task.is_regression:
            raise ValueError(f"Prompting scores one text against label words: {glue_task.name} is a "
                             f"{'pair' if glue_task.text_pair else 'regression'} task.")
        if len(label_words) != glue_task.num_classes:
            raise ValueError(f"{glue_task.name} has {glue_task.num_classes} labels "
                             f"({', '.join(glue_task.label_names)}); got {len(label_words)} label words.")
        self.name = f"{glue_task.name}_prompt"
        self.template, self.label_words, self.shots_per_class = template, list(label_words), shots_per_class
        self.label_names = tuple(self.label_words)
        dev = read_glue_tsv(glue_task, data_dir, "dev")
        train = few_shot_dev = GlueSplit(([],), np.zeros([0], np.int32))
        if shots_per_class:
            full_train = read_glue_tsv(glue_task, data_dir, "train")
            train, chosen = sample_per_class(full_train, shots_per_class, seed)
            few_shot_dev, _ = sample_per_class(full_train, shots_per_class, seed + 1, exclude=chosen)
        super().__init__(train, dev)
        self.few_shot_dev = few_shot_dev

    def new_model(self, model_dir: str, sequence_length: int) -> ElectraPromptClassifier:
        return prompt_classifier(model_dir, self.template, self.label_words, sequence_length=sequence_length)

    def dev_data(self) -> dict[str, GlueSplit]:
        return {"few_shot_dev": self.few_shot_dev, "dev": self.dev}  # the first selects epochs and seeds

    def zero_shot(self, model_dir: str, sequence_length: int = 128, batch_size: int = 32) -> dict[str, float]:
        """Dev metrics of the pre-trained discriminator as it is."""
        return self.evaluate(self.new_model(model_dir, sequence_length), self.dev, batch_size)

    def majority_accuracy(self) -> float:
        """Dev accuracy of the best constant answer (percent): no training labels are needed to state it."""
        return 100.0 * float(np.bincount(self.dev.labels).max() / len(self.dev))

    def settings(self) -> dict:
        return {**super().settings(), "template": self.template, "label_words": self.label_words,
                "shots_per_class": self.shots_per_class}
