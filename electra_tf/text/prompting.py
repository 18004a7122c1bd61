"""`PromptPreprocessor`: raw texts -> one filled template per candidate label word, for the discriminator to judge.

Prompting ELECTRA (Xia et al., EMNLP 2022): a text is put into a template such as `{text} It was {word}.` once per
candidate label word, and the discriminator says how "original" the word looks there. This layer builds the
candidates in the graph: `[CLS] <template with the text and the word> [SEP]`, and marks the word's tokens.
"""

from __future__ import annotations

import string
import unicodedata
from typing import Sequence

import keras
import tensorflow as tf

from electra_tf.inputs import INPUT_KEYS
from electra_tf.text.preprocessor import TokenizingLayer, trim_padding
from electra_tf.text.tokenizer import WordPieceTokenizer, is_cjk_ideograph

WORD_MASK = "word_mask"  # float [batch, labels, length]: 1 on the candidate label word's tokens
DEFAULT_TEMPLATE = "{text} It was {word}."  # Xia et al.'s SST-2 template
DEFAULT_LABEL_WORDS = ("terrible", "great")  # SST-2's labels 0 and 1
FIELDS = ("text", "word")


@keras.saving.register_keras_serializable(package="electra_tf")
class PromptPreprocessor(TokenizingLayer):
    """Fills a template with each text and each candidate label word, tokenized, in the TensorFlow graph.

    The template's pieces, the text and the words are tokenized separately and joined, which gives the same
    tokens as tokenizing the filled string because `{text}` and `{word}` must meet the template's own words at
    a space, punctuation or a CJK ideograph (where BERT's tokenizer splits anyway). An over-long text is cut at
    its end, the same for every candidate; the template and the word always fit.

    Args:
        tokenizer: `WordPieceTokenizer`.
        template: str. With `{text}` and `{word}` once each. Defaults to `"{text} It was {word}."`.
        label_words: sequence of str. One word (or a few) per label, in the labels' order. Defaults to
            `("terrible", "great")`.
        sequence_length: int. Tokens of each candidate, [CLS] and [SEP] included. Defaults to `128`.
        padding: str. `"longest"` (a batch is cut to its longest candidate, rounded up to a multiple of 16) or
            `"max_length"`. Defaults to `"longest"`.

    Returns `token_ids`, `segment_ids`, `padding_mask` (int32) and `word_mask` (float32), each
    [batch, num_labels, length].
    """

    text_pair = False  # one text per request

    def __init__(self, tokenizer: WordPieceTokenizer, template: str = DEFAULT_TEMPLATE,
                 label_words: Sequence[str] = DEFAULT_LABEL_WORDS, sequence_length: int = 128,
                 padding: str = "longest", **kwargs):
        super().__init__(tokenizer, sequence_length, **kwargs)
        self.template, self.label_words, self.padding = template, list(label_words), padding
        self.pieces = _template_pieces(template)
        if len(self.label_words) < 2:
            raise ValueError(f"Give at least two label words, got {self.label_words}.")
        self.word_ids = [self._ids(word) for word in self.label_words]
        for word, ids in zip(self.label_words, self.word_ids):
            if not ids or tokenizer.unk_token_id in ids:
                raise ValueError(f"The label word {word!r} is {'empty' if not ids else '[UNK]'} in this vocabulary: "
                                 "choose words the vocabulary has.")
        self.literal_ids = [self._ids(text) if kind == "literal" else None for kind, text in self.pieces]
        fixed = 2 + sum(len(ids) for ids in self.literal_ids if ids) + max(map(len, self.word_ids))
        self.text_budget = sequence_length - fixed
        if self.text_budget < 1:
            raise ValueError(f"sequence_length {sequence_length} leaves no room for the text: the template and the "
                             f"longest label word take {fixed} tokens with [CLS] and [SEP].")

    def _ids(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.tokenize(text).numpy()]

    def call(self, x, y=None, sample_weight=None):
        """Candidates for a string or a batch of strings (see the class docstring); `y` and `sample_weight`
        pass through."""
        texts = tf.convert_to_tensor(x, dtype=tf.string)
        single = texts.shape.rank == 0
        if single:
            texts = texts[tf.newaxis]
        text_ids = self.tokenizer.tokenize(texts)[:, :self.text_budget]
        rows = text_ids.nrows()
        tiled = lambda ids: tf.RaggedTensor.from_tensor(tf.tile(tf.constant([ids], tf.int32, shape=[1, len(ids)]),
                                                                [rows, 1]))
        start, end = tiled([self.tokenizer.cls_token_id]), tiled([self.tokenizer.sep_token_id])
        token_ids, word_mask = [], []
        kinds = [kind for kind, _ in self.pieces]
        for word_ids in self.word_ids:
            pieces = [text_ids if kind == "text" else tiled(word_ids if kind == "word" else literal)
                      for kind, literal in zip(kinds, self.literal_ids)]
            marks = [tf.ones_like(ids) if kind == "word" else tf.zeros_like(ids) for kind, ids in zip(kinds, pieces)]
            shape = [None, self.sequence_length]
            token_ids.append(tf.concat([start, *pieces, end], axis=1).to_tensor(self.tokenizer.pad_token_id,
                                                                                  shape=shape))
            word_mask.append(tf.concat([tf.zeros_like(start), *marks, tf.zeros_like(end)], axis=1).to_tensor(
                0, shape=shape))
        token_ids = tf.stack(token_ids, axis=1)
        inputs = dict(zip(INPUT_KEYS, (token_ids, tf.zeros_like(token_ids),
                                       tf.cast(token_ids != self.tokenizer.pad_token_id, tf.int32))))
        inputs[WORD_MASK] = tf.cast(tf.stack(word_mask, axis=1), tf.float32)
        if self.padding == "longest" and not single:
            inputs = trim_padding(inputs)
        if single:
            inputs = {name: value[0] for name, value in inputs.items()}
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    def settings(self) -> dict:
        return {**super().settings(), "template": self.template, "label_words": self.label_words,
                "padding": self.padding}


def _template_pieces(template: str) -> list[tuple[str, str]]:
    """The template as `("literal", text)`, `("text", "")` and `("word", "")` pieces in order; refused unless each
    field is there once and meets the template's words at a token boundary."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"The template {template!r} is not a format string: {error}") from error
    pieces = []
    for literal, field, _, _ in parsed:
        if literal:
            pieces.append(("literal", literal))
        if field is not None:
            if field not in FIELDS:
                raise ValueError(f"The template {template!r} has {{{field}}}: only {{text}} and {{word}} can be filled.")
            pieces.append((field, ""))
    if sorted(kind for kind, _ in pieces if kind != "literal") != sorted(FIELDS):
        raise ValueError(f"The template {template!r} must hold {{text}} and {{word}} once each.")
    for (kind, text), (next_kind, next_text) in zip(pieces, pieces[1:]):
        if kind == next_kind == "literal":
            continue
        adjacent_fields = kind != "literal" and next_kind != "literal"
        if adjacent_fields or not _splits(text[-1] if kind == "literal" else next_text[0]):
            raise ValueError(f"In the template {template!r}, {{text}} and {{word}} must be separated from the words "
                             "around them (and from each other) by a space or punctuation.")
    return pieces


def _splits(char: str) -> bool:
    """Whether BERT's tokenizer splits at `char` (whitespace, punctuation, a CJK ideograph)."""
    return (char.isspace() or unicodedata.category(char).startswith("P") or char in string.punctuation
            or is_cjk_ideograph(char))
