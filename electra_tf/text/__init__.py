"""Text processing: the WordPiece tokenizer, vocabulary learning, and the bundled sample corpus and vocabulary."""

import pathlib

from electra_tf.text.preprocessor import ElectraPreprocessor
from electra_tf.text.tokenizer import (
    RESERVED_TOKENS,
    SPECIAL_TOKENS,
    WordPieceTokenizer,
    learn_vocabulary,
    write_vocabulary,
)

_ASSETS = pathlib.Path(__file__).resolve().parents[1] / "assets"
# Package data made by tools/make_sample_corpus.py (sources and licences: assets/ATTRIBUTION.md).
SAMPLE_CORPUS_FILE = _ASSETS / "corpus_sample.txt"
"""About 1.7 MB of public-domain English, one sentence per line, a blank line between documents."""
SAMPLE_VOCAB_FILE = _ASSETS / "vocab.txt"
"""An uncased 8000-token WordPiece vocabulary learned from `SAMPLE_CORPUS_FILE`, BERT's special-token ids."""

__all__ = [
    "ElectraPreprocessor",
    "RESERVED_TOKENS",
    "SAMPLE_CORPUS_FILE",
    "SAMPLE_VOCAB_FILE",
    "SPECIAL_TOKENS",
    "WordPieceTokenizer",
    "learn_vocabulary",
    "write_vocabulary",
]
