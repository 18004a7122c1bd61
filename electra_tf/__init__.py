"""electra_tf: ELECTRA pre-training, fine-tuning and export for TensorFlow 2 / Keras 3.

The public API; everything else is reachable through its module. Names are imported on first use, so that
`import electra_tf.cli` (the `electra-tf` command) starts without TensorFlow until a command needs it.
"""

import importlib

_EXPORTS = {
    "PRESETS": "electra_tf.config", "ElectraConfig": "electra_tf.config", "generator_config": "electra_tf.config",
    "ElectraEmbeddings": "electra_tf.layers.embeddings", "ElectraEncoder": "electra_tf.layers.encoder",
    "DiscriminatorHead": "electra_tf.layers.heads", "GeneratorHead": "electra_tf.layers.heads",
    "ElectraBackbone": "electra_tf.models.backbone", "ElectraClassifier": "electra_tf.models.classifier",
    "ElectraDiscriminator": "electra_tf.models.discriminator", "ElectraGenerator": "electra_tf.models.generator",
    "ElectraPretrainer": "electra_tf.models.pretrainer", "MaskedLMPretrainer": "electra_tf.models.masked_lm",
    "DisentangledEmbeddings": "electra_tf.layers.embeddings", "bert_masking": "electra_tf.config", "ElectraQuestionAnswerer": "electra_tf.models.question_answerer",
    "ElectraTokenClassifier": "electra_tf.models.token_classifier", "ElectraPreprocessor": "electra_tf.text.preprocessor",
    "WordPieceTokenizer": "electra_tf.text.tokenizer", "learn_vocabulary": "electra_tf.text.tokenizer",
    "ElectraAdamW": "electra_tf.training.optimization", "WarmupLinearDecay": "electra_tf.training.optimization",
    "create_optimizer": "electra_tf.training.optimization",
}
__all__ = list(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'electra_tf' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
