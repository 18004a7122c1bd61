"""Chinese sentiment (ChnSentiCorp hotel reviews) as a fine-tuning task (`electra_tf.data.chnsenticorp`)."""

from __future__ import annotations

import os

from electra_tf.data.chnsenticorp import LABEL_NAMES, read_chnsenticorp
from electra_tf.tasks.classification import InMemoryClassificationTask


class ChnSentiCorpFinetuning(InMemoryClassificationTask):
    """Positive or negative hotel reviews for `run_finetuning`, scored by accuracy (percent); the majority class
    (positive) is 68.5%."""

    name = "chnsenticorp"
    label_names = LABEL_NAMES

    def __init__(self, path: str | os.PathLike, dev_fraction: float = 0.2, seed: int = 0):
        super().__init__(*read_chnsenticorp(path, dev_fraction, seed))
