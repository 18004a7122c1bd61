"""An exported NER model answers raw text with entities whose character offsets slice the original string."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.export.serving import export_model_directory
from electra_tf.inputs import INPUT_KEYS
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.models.token_classifier import ElectraTokenClassifier
from electra_tf.tag_schemes import chunks, label_names
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from tests.test_case import serve_in_fresh_process, tiny_config

LABELS = label_names(["LOC", "PER"], "bio")
TEXTS = ["Peter Blackburn flew to Brussels on Monday.", "Zoë Saldaña in Besançon", "東京と大阪 Tokyo",
         "", "ok", " ".join(f"word{i % 50} Paris" for i in range(500))]  # the last: 1,000 words


def _tagger(root, crf: bool) -> ElectraTokenClassifier:
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    ElectraPretrainer(tiny_config(vocab_size=tokenizer.vocab_size)).save_pretrained(root / "pretrained", tokenizer)
    tagger = ElectraTokenClassifier.from_pretrained(root / "pretrained", label_names=LABELS, crf=crf,
                                                    sequence_length=16)
    # Large random head weights: many entities of both types, so that offsets are exercised everywhere.
    kernel = np.random.default_rng(0).normal(size=tagger.logits.kernel.shape) * 3
    tagger.logits.kernel.assign(kernel)
    tagger.save_pretrained(root / "tuned")
    return tagger


def _expected_entities(tagger, text):
    """Entities computed in Python from the Keras model: windows' pieces stitched, words' argmax, chunks."""
    encoded = tagger.preprocessor.encode_texts(tf.constant([text]))
    logits = tagger({name: encoded[name] for name in INPUT_KEYS}).numpy()
    lengths = encoded["padding_mask"].numpy().sum(axis=1)
    pieces = np.concatenate([logits[w, 1:length - 1] for w, length in enumerate(lengths)]) if text else np.zeros(0)
    starts, ends = encoded["piece_starts"][0].numpy(), encoded["piece_ends"][0].numpy()
    first = encoded["word_start"][0].numpy()
    word_index = np.flatnonzero(first)
    word_end = np.append(word_index[1:], len(first)) - 1
    tags = [LABELS[i] for i in pieces[word_index].argmax(-1)] if len(word_index) else []
    data = text.encode("utf-8")
    characters = lambda b: len(data[:b].decode("utf-8"))
    return [(entity_type, characters(starts[word_index[a]]), characters(ends[word_end[b - 1]]))
            for entity_type, a, b in chunks(tags)]


@pytest.mark.parametrize("crf", [False, True])
def test_entities_slice_the_original_text_in_a_fresh_process(tmp_path, crf):
    tagger = _tagger(tmp_path, crf)
    saved_model = export_model_directory(tmp_path / "tuned", tmp_path / "saved_models" / "ner")
    answer = serve_in_fresh_process(saved_model, {"text": TEXTS})
    assert len(answer["num_entities"]) == len(TEXTS) and answer["num_entities"][3] == 0  # "" answers too
    assert answer["num_entities"][5] > 100  # the 1,000-word text is tagged to its end
    for row, text in enumerate(TEXTS):
        count = answer["num_entities"][row]
        served = list(zip(*(answer[key][row][:count] for key in ("entity_types", "entity_starts", "entity_ends"))))
        for entity_text, (_, start, end) in zip(answer["entity_texts"][row], served):
            assert text[start:end] == entity_text and entity_text.strip() == entity_text and entity_text
        if not crf:  # the CRF decodes differently from the argmax reference
            assert served == _expected_entities(tagger, text), text
        scores = answer["entity_scores"][row][:count]
        assert all(0 <= score <= 1 for score in scores)


def test_predict_ids_returns_per_token_logits(tmp_path):
    tagger = _tagger(tmp_path, crf=False)
    saved_model = export_model_directory(tmp_path / "tuned", tmp_path / "saved_models" / "ner")
    inputs = {name: value.numpy().tolist() for name, value in tagger.preprocessor(["Zoë in Paris"]).items()}
    answer = serve_in_fresh_process(saved_model, inputs, signature="predict_ids")
    np.testing.assert_allclose(np.array(answer["logits"]), tagger(tagger.preprocessor(["Zoë in Paris"])).numpy(),
                               atol=1e-5)
