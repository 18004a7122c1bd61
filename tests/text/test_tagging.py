"""Word windows: every word labelled once, in order, whatever the lengths; offsets of raw text."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.text.tagging import IGNORED_LABEL, WordTaggingPreprocessor, window_pieces
from tests.test_case import run_config_round_trip

TOKENIZER = WordPieceTokenizer(SAMPLE_VOCAB_FILE)


@pytest.mark.parametrize("sequence_length", [3, 5, 16])
def test_every_word_is_labelled_exactly_once_and_stitched_back_in_order(sequence_length):
    rng = np.random.default_rng(sequence_length)
    vocabulary = ["the", "queen", "extraordinarily", "Zoë", "東京", "\u200b", ",", "unbelievableness"]
    sentences = [[str(rng.choice(vocabulary)) for _ in range(rng.integers(0, 30))] for _ in range(40)]
    labels = [list(range(len(sentence))) for sentence in sentences]
    windows = WordTaggingPreprocessor(TOKENIZER, sequence_length).encode_words(sentences, labels)
    assert [words.tolist() for words in windows.words_of(windows.labels)] == labels
    assert (windows.labels != IGNORED_LABEL).sum() == sum(map(len, sentences))
    # Nothing is cut: the windows hold every piece of every word.
    pieces = sum(len(TOKENIZER.tokenize(word)) or 1 for sentence in sentences for word in sentence)
    assert windows.inputs["padding_mask"].sum() - 2 * len(windows) == pieces
    assert windows.inputs["padding_mask"].shape[1] == sequence_length


def test_a_word_that_tokenizes_to_nothing_keeps_a_position():
    windows = WordTaggingPreprocessor(TOKENIZER, 8).encode_words([["\u200b", "queen"]], [[3, 4]])
    assert windows.inputs["token_ids"][0, :4].tolist() == [TOKENIZER.cls_token_id, TOKENIZER.unk_token_id,
                                                          TOKENIZER.token_to_id("queen"), TOKENIZER.sep_token_id]
    assert windows.labels[0, :4].tolist() == [IGNORED_LABEL, 3, 4, IGNORED_LABEL]


def test_window_pieces_gives_one_window_to_an_empty_row():
    windows, rows = window_pieces(tf.ragged.constant([[1, 2, 3, 4, 5], [], [6]]), 2)
    assert windows.to_list() == [[1, 2], [3, 4], [5], [], [6]] and rows.numpy().tolist() == [0, 0, 0, 1, 2]


def test_raw_text_offsets_and_word_starts():
    preprocessor = WordTaggingPreprocessor(TOKENIZER, 6)
    text = "Zoë Saldaña, extraordinarily"
    encoded = preprocessor.encode_texts(tf.constant([text]))
    data = text.encode("utf-8")
    pieces = [data[s:e].decode() for s, e in zip(encoded["piece_starts"][0].numpy(), encoded["piece_ends"][0].numpy())]
    starts = encoded["word_start"][0].numpy()
    words = "".join(("|" if start else "") + piece for piece, start in zip(pieces, starts)).split("|")[1:]
    assert words == ["Zoë", "Saldaña", ",", "extraordinarily"]
    assert encoded["window_text"].numpy().tolist() == [0] * len(encoded["token_ids"])
    run_config_round_trip(preprocessor, tf.constant([text]))
