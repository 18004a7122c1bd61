"""An exported reader answers a question on a raw context, in a fresh process, exactly as the Keras model's
decoding does: substrings of the context at the returned character offsets, over every window."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.export.predict import load_serving_model, predict_answers
from electra_tf.export.serving import export_model_directory
from electra_tf.models.question_answerer import ElectraQuestionAnswerer
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.text.question_answering import QuestionAnsweringPreprocessor
from tests.test_case import save_random_pretrainer, serve_in_fresh_process

LONG_CONTEXT = " ".join(f"Anne walked to Bath on day {i} and met Wentworth near the Cobb." for i in range(7))
QUESTIONS = ["Who did Anne meet?", "Where was Zoë born?", "首都是哪里?", "What did they say?", "Why?", ""]
CONTEXTS = [LONG_CONTEXT, "Zoë Saldaña was born in Passaic and moved to Besançon.", "東京は日本の首都です。",
            "We met 🙂 at noon and said 👋 hi.", "", "A question-less context."]


@pytest.fixture(scope="module", params=["original", "huggingface"])
def exported(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("qa_export")
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    save_random_pretrainer(root / "pretrained")
    preprocessor = QuestionAnsweringPreprocessor(tokenizer, 64, max_question_length=16, doc_stride=32)
    reader = ElectraQuestionAnswerer.from_pretrained(root / "pretrained", head=request.param, beam_size=5,
                                                     preprocessor=preprocessor)
    # Abstain on about half: the threshold is the median null odds of these questions.
    reader.null_threshold = float(np.median(reader.answer(QUESTIONS, CONTEXTS)["null_odds"].numpy()))
    reader.save_pretrained(root / "tuned")
    return ElectraQuestionAnswerer.from_pretrained(root / "tuned"), export_model_directory(
        root / "tuned", root / "saved_models" / "qa")


def test_served_answers_equal_the_keras_decoding_in_a_fresh_process(exported):
    reader, saved_model = exported
    windows = reader.preprocessor.encode(QUESTIONS, CONTEXTS)["window_example"].numpy()
    assert np.bincount(windows)[0] == 3  # the long context is read in three windows
    served = serve_in_fresh_process(saved_model, {"question": QUESTIONS, "context": CONTEXTS})
    expected = {name: value.numpy() for name, value in reader.answer(QUESTIONS, CONTEXTS).items()}
    assert served["answer"] == [answer.decode("utf-8") for answer in expected["answer"]]
    assert served["start"] == expected["start"].tolist() and served["end"] == expected["end"].tolist()
    assert served["answerable"] == expected["answerable"].tolist()
    np.testing.assert_allclose(served["score"], expected["score"], rtol=1e-5)
    np.testing.assert_allclose(served["null_score"], expected["null_odds"], rtol=1e-5, atol=1e-5)
    for context, answer, start, end, answerable in zip(CONTEXTS, served["answer"], served["start"], served["end"],
                                                       served["answerable"]):
        assert context[start:end] == answer and bool(answer) == answerable
    assert served["answer"][4] == "" and not served["answerable"][4]  # an empty context has no answer
    assert 0 < sum(served["answerable"]) < len(QUESTIONS)  # the threshold abstains on some, not all


def test_jit_compiled_export_gives_the_same_answers(exported):
    reader, saved_model = exported
    compiled = export_model_directory(saved_model.parents[2] / "tuned", saved_model.parent, jit_compile=True)
    served = tf.saved_model.load(str(compiled)).signatures["serving_default"](
        question=tf.constant(QUESTIONS), context=tf.constant(CONTEXTS))
    expected = reader.answer(QUESTIONS, CONTEXTS)
    assert served["answer"].numpy().tolist() == expected["answer"].numpy().tolist()
    np.testing.assert_allclose(served["score"].numpy(), expected["score"].numpy(), rtol=1e-5)


def test_answers_are_spans_of_at_most_max_answer_length_pieces(exported):
    reader, _ = exported
    best = reader.answer(QUESTIONS, CONTEXTS)["best_span"].numpy()
    for context, span in zip(CONTEXTS, best):
        text = span.decode("utf-8")
        assert text in context
        assert len(reader.preprocessor.tokenizer.tokenize(text).numpy()) <= reader.max_answer_length


def test_predict_prints_the_answers(exported):
    _, saved_model = exported
    answers = predict_answers(load_serving_model(saved_model.parent), QUESTIONS[:2], CONTEXTS[:2])
    assert [CONTEXTS[i][a["start"]:a["end"]] == a["answer"] for i, a in enumerate(answers)] == [True, True]
    assert set(answers[0]) == {"answer", "start", "end", "score", "null_score", "answerable"}
    with pytest.raises(ValueError, match="one context per question"):
        predict_answers(load_serving_model(saved_model.parent), QUESTIONS[:2], CONTEXTS[:1])


def test_the_warm_up_request_and_empty_contexts_are_answered(exported):
    """TF Serving replays the warm-up request (an empty context in one row) before serving; it failed on a gather
    out of range."""
    _, saved_model = exported
    serve = load_serving_model(saved_model).signatures["serving_default"]
    for questions, contexts in ((["a short request", ""], ["", "a short request"]), (["who?"], [""])):
        answers = serve(question=tf.constant(questions), context=tf.constant(contexts))
        assert answers["answer"].numpy()[0] == b"" and answers["start"].numpy()[0] == 0
