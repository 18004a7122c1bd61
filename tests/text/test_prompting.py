"""The prompt preprocessor builds, for each label word, the tokens of the filled template, and marks the word."""

import numpy as np
import pytest

from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.text.prompting import PromptPreprocessor

TEXTS = ["What a lovely, sunny morning!", "The queen was not amused by the king's long speech in the garden.", ""]


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer(SAMPLE_VOCAB_FILE)


@pytest.mark.parametrize("template", ["{text} It was {word}.", "{word}! {text}", "Review: {text} (overall: {word})"])
def test_candidates_are_the_filled_templates_tokens_with_the_word_marked(tokenizer, template):
    words = ["terrible", "great", "quite good"]
    preprocessor = PromptPreprocessor(tokenizer, template, words, sequence_length=64, padding="max_length")
    inputs = {name: value.numpy() for name, value in preprocessor(TEXTS).items()}
    assert inputs["token_ids"].shape == (3, 3, 64)
    for row, text in enumerate(TEXTS):
        for label, word in enumerate(words):
            filled = tokenizer.tokenize(template.format(text=text, word=word)).numpy().tolist()
            expected = [tokenizer.cls_token_id, *filled, tokenizer.sep_token_id]
            ids = inputs["token_ids"][row, label]
            assert ids[:len(expected)].tolist() == expected and not ids[len(expected):].any()
            assert inputs["padding_mask"][row, label].sum() == len(expected)
            marked = ids[inputs["word_mask"][row, label] == 1].tolist()
            assert marked == tokenizer.tokenize(word).numpy().tolist()


def test_a_long_text_is_cut_alike_for_every_word_and_the_word_always_fits(tokenizer):
    preprocessor = PromptPreprocessor(tokenizer, "{text} It was {word}.", ["bad", "very good"], sequence_length=16,
                                      padding="max_length")
    inputs = preprocessor([" ".join(["the queen"] * 40)])
    ids, mask = inputs["token_ids"].numpy()[0], inputs["word_mask"].numpy()[0]
    # 16 - [CLS] [SEP] - "it was ." - the longest word (2) leaves 9 text tokens, for both words.
    np.testing.assert_array_equal(ids[0, :10], ids[1, :10])
    assert tokenizer.detokenize(ids[1, 1:10][None]).numpy()[0] == b"the queen the queen the queen the queen the"
    assert inputs["padding_mask"].numpy()[0].sum(axis=1).tolist() == [15, 16]
    assert mask[0].sum() == 1 and mask[1].sum() == 2 and ids[1, 15] == tokenizer.sep_token_id


@pytest.mark.parametrize("template, words, message", [
    ("{text}It was {word}.", ["bad", "good"], "separated from the words around them"),
    ("{text} It was {word}{text}", ["bad", "good"], "once each"),
    ("{text} It was {label}.", ["bad", "good"], "only {text} and {word}"),
    ("{text} It was {word}.", ["good"], "at least two label words"),
    ("{text} It was {word}.", ["bad", "☃"], "'☃' is \\[UNK\\]"),
])
def test_bad_templates_and_words_are_refused(tokenizer, template, words, message):
    with pytest.raises(ValueError, match=message):
        PromptPreprocessor(tokenizer, template, words)
