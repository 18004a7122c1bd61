"""The model inputs every encoder takes: names and shapes, at the bottom of the package so that text, data,
models and export all spell them one way."""

# Each [batch_size, sequence_length] ints: WordPiece ids, 0/1 segment (sentence A/B) ids, 1 on real tokens.
INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")
# Their shapes for building a model before any data: batch size and sequence length are free.
ANY_LENGTH_INPUTS = {key: (None, None) for key in INPUT_KEYS}
# Whole-word masking's extra pre-training input: 1 where a word begins ([batch_size, sequence_length] ints).
WORD_START = "word_start"
