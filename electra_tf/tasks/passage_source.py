"""Which source a passage of the bundled corpus comes from, as a fine-tuning task: the quick start's task, which
needs no download (`electra_tf.data.passages`)."""

from __future__ import annotations

from electra_tf.data.passages import PASSAGE_SOURCES, read_passage_sources
from electra_tf.tasks.classification import InMemoryClassificationTask


class PassageSourceFinetuning(InMemoryClassificationTask):
    """The passage-source task for `run_finetuning`: four balanced classes, scored by accuracy (percent)."""

    name = "passage_source"
    label_names = PASSAGE_SOURCES

    def __init__(self, **read_options):
        super().__init__(*read_passage_sources(**read_options))
