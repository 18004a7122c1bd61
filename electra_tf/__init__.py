"""electra_tf: ELECTRA pre-training, fine-tuning and export for TensorFlow 2 / Keras 3.

The public API; everything else is reachable through its module.
"""

from electra_tf.config import PRESETS, ElectraConfig, generator_config
from electra_tf.layers.embeddings import ElectraEmbeddings
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.layers.heads import DiscriminatorHead, GeneratorHead
from electra_tf.models.backbone import ElectraBackbone
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.generator import ElectraGenerator
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.models.question_answerer import ElectraQuestionAnswerer
from electra_tf.models.token_classifier import ElectraTokenClassifier
from electra_tf.text.preprocessor import ElectraPreprocessor
from electra_tf.text.tokenizer import WordPieceTokenizer, learn_vocabulary
from electra_tf.training.optimization import ElectraAdamW, WarmupLinearDecay, create_optimizer

__all__ = [
    "PRESETS", "ElectraConfig", "generator_config", "ElectraEmbeddings", "ElectraEncoder", "DiscriminatorHead",
    "GeneratorHead", "ElectraBackbone", "ElectraClassifier", "ElectraDiscriminator", "ElectraGenerator",
    "ElectraPretrainer", "ElectraQuestionAnswerer", "ElectraTokenClassifier",
    "ElectraPreprocessor", "WordPieceTokenizer",
    "learn_vocabulary", "ElectraAdamW", "WarmupLinearDecay", "create_optimizer",
]
__version__ = "0.1.0"
