"""Keras models: the pre-trainer, its two towers, the backbone and the task models.

Importing this package imports every model module, so each class is registered (`registry.register`) as the
reader of its kind of model directory before any directory is read.
"""

from electra_tf.models import (  # noqa: F401  (imported for their registration)
    backbone,
    classifier,
    discriminator,
    generator,
    masked_lm,
    pretrainer,
    prompt_classifier,
    question_answerer,
    token_classifier,
)
