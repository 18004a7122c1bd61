"""An exported NER model answers raw text with entities whose character offsets slice the original string."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from electra_tf.export.serving import export_model_directory
from electra_tf.inputs import INPUT_KEYS
from electra_tf.models.token_classifier import ElectraTokenClassifier
from electra_tf.tag_schemes import chunks, label_names
from tests.test_case import save_random_pretrainer, serve_in_fresh_process

LABELS = label_names(["LOC", "PER"], "bio")
TEXTS = ["Peter Blackburn flew to Brussels on Monday.", "Zoë Saldaña in Besançon", "東京と大阪 Tokyo",
         "", "ok", " ".join(f"word{i % 50} Paris" for i in range(500))]  # the last: 1,000 words


def _tagger(root, crf: bool) -> ElectraTokenClassifier:
    save_random_pretrainer(root / "pretrained", seed=0)  # weights that tag many entities, whatever ran before
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


@pytest.fixture(scope="module", params=[False, True], ids=["softmax", "crf"])
def exported(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("ner_export")
    tagger = _tagger(root, crf=request.param)
    return tagger, export_model_directory(root / "tuned", root / "saved_models" / "ner")


def test_entities_slice_the_original_text_in_a_fresh_process(exported):
    tagger, saved_model = exported
    crf = tagger.crf is not None
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


def test_predict_ids_returns_per_token_logits(exported):
    tagger, saved_model = exported
    inputs = {name: value.numpy().tolist() for name, value in tagger.preprocessor(["Zoë in Paris"]).items()}
    answer = serve_in_fresh_process(saved_model, inputs, signature="predict_ids")
    np.testing.assert_allclose(np.array(answer["logits"]), tagger(tagger.preprocessor(["Zoë in Paris"])).numpy(),
                               atol=1e-5)


def test_graph_needs_only_core_and_tensorflow_text_ops(exported):
    _, saved_model = exported
    proto = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}
    assert {op for op in ops if op not in dir(tf.raw_ops)} == {
        "NormalizeUTF8", "TFText>WhitespaceTokenizeWithOffsetsV2", "FastWordpieceTokenizeWithOffsets"}
    assert (saved_model / "assets" / "labels.txt").read_text().splitlines() == LABELS
