"""QA windows: the original's document spans and max-context rule, and offsets that slice the raw context."""

import random
import string

import numpy as np
import pytest

from electra_tf.data.squad import QaExample, QaSplit, read_squad
from electra_tf.tasks.squad import qa_features
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.text.question_answering import QuestionAnsweringPreprocessor, answer_piece_span
from tests.test_case import SHARED_DATA

LETTERS = list(string.ascii_lowercase)


@pytest.fixture(scope="module")
def letter_tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *LETTERS]) + "\n", encoding="utf-8")
    return WordPieceTokenizer(path)


def original_doc_spans(num_pieces: int, max_tokens_for_doc: int, doc_stride: int) -> list[tuple[int, int]]:
    """google-research/electra `qa_tasks.py` (as BERT's `run_squad.py`): (start, length) of each window."""
    spans, start = [], 0
    while start < num_pieces:
        length = min(num_pieces - start, max_tokens_for_doc)
        spans.append((start, length))
        if start + length == num_pieces:
            break
        start += min(length, doc_stride)
    return spans


def original_is_max_context(spans, span_index: int, position: int) -> bool:
    """`_check_is_max_context`: the first window of the best min(left, right) + 0.01 x length."""
    best_score = best_index = None
    for index, (start, length) in enumerate(spans):
        end = start + length - 1
        if start <= position <= end:
            score = min(position - start, end - position) + 0.01 * length
            if best_score is None or score > best_score:
                best_score, best_index = score, index
    return span_index == best_index


def test_windows_and_max_context_match_the_original(letter_tokenizer):
    rng = random.Random(0)
    sequence_length, max_question, stride = 24, 6, 5
    preprocessor = QuestionAnsweringPreprocessor(letter_tokenizer, sequence_length, max_question, stride)
    questions = [" ".join(rng.choices(LETTERS, k=rng.randint(1, 9))) for _ in range(40)]
    contexts = [" ".join(rng.choices(LETTERS, k=rng.randint(1, 60))) for _ in range(40)]
    windows = {name: np.asarray(value) for name, value in preprocessor.encode(questions, contexts).items()
               if name not in ("piece_starts", "piece_ends")}
    expected_ids, expected_max_context = [], []
    for question, context in zip(questions, contexts):
        question_ids = letter_tokenizer.tokenize(question).numpy().tolist()[:max_question]
        context_ids = letter_tokenizer.tokenize(context).numpy().tolist()
        spans = original_doc_spans(len(context_ids), sequence_length - 3 - len(question_ids), stride)
        for index, (start, length) in enumerate(spans):
            ids = [2, *question_ids, 3, *context_ids[start:start + length], 3]
            expected_ids.append(ids + [0] * (sequence_length - len(ids)))
            flags = [original_is_max_context(spans, index, start + j) for j in range(length)]
            row = [False] * (len(question_ids) + 2) + flags
            expected_max_context.append(row + [False] * (sequence_length - len(row)))
    assert windows["token_ids"].tolist() == expected_ids
    assert windows["max_context"].tolist() == expected_max_context
    segments = windows["segment_ids"]
    assert ((segments == 1) == ((windows["token_ids"] != 0) & (np.arange(sequence_length) >= windows[
        "context_offset"][:, None]))).all()  # segment 1: the context and its [SEP]


def test_a_question_with_no_room_for_context_is_refused(letter_tokenizer):
    with pytest.raises(ValueError, match="leaves no room for context"):
        QuestionAnsweringPreprocessor(letter_tokenizer, sequence_length=64, max_question_length=64)


def test_a_question_longer_than_the_window_is_cut_counted_and_still_answerable(letter_tokenizer):
    preprocessor = QuestionAnsweringPreprocessor(letter_tokenizer, sequence_length=16, max_question_length=4,
                                                 doc_stride=4)
    long_question = " ".join(LETTERS[:20])  # 20 pieces: more than the whole window
    context = "x y z q r s t u v w"
    split = QaSplit([QaExample("long", long_question, context, ("t u",), (12,)),
                     QaExample("short", "a b", context, ("t u",), (12,))], source="test", version="1.1")
    features = qa_features(preprocessor, split)
    assert features.questions_cut == 1  # only the long one
    window_example = preprocessor.encode([long_question], [context])["window_example"].numpy()
    token_ids, starts, ends = (features.inputs["token_ids"], features.labels["start_positions"],
                               features.labels["end_positions"])
    answer_ids = list(letter_tokenizer.tokenize("t u").numpy())
    labelled = [list(token_ids[w, starts[w]:ends[w] + 1]) for w in range(len(window_example)) if starts[w]]
    assert labelled and all(ids == answer_ids for ids in labelled)  # the cut question leaves the answer labelled
    assert features.unrecoverable == 0


@pytest.mark.parametrize("context, answer", [
    ("Zoë Saldaña was born in Besançon in 1978.", "Besançon"),
    ("The CAFÉ ﬁnal opened; Straße 5 is next.", "Straße 5"),  # a ligature and ß change length when normalised
    ("東京は日本の首都です。", "日本の首都"),  # one piece per CJK character
    ("We met 🙂 at noon and said 👋 hi.", "at noon"),  # emoji are [UNK] pieces of their own
])
def test_answer_spans_slice_the_raw_context(context, answer):
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    _, starts, ends = tokenizer.tokenize_with_offsets(context)
    starts, ends = starts.numpy(), ends.numpy()
    span = answer_piece_span(context, context.index(answer), answer, starts, ends)
    assert context.encode("utf-8")[starts[span[0]]:ends[span[1]]].decode("utf-8") == answer


def _round_trip(path):
    """Answerable questions whose labelled span does not read back as their answer, and how many there are."""
    split = read_squad(path, training=True)
    preprocessor = QuestionAnsweringPreprocessor(WordPieceTokenizer(SAMPLE_VOCAB_FILE), 384)
    return qa_features(preprocessor, split).unrecoverable, len(split)


@pytest.mark.parametrize("name", ["xquad/xquad.en.json", "xquad/xquad.zh.json", pytest.param("v1.1/train-v1.1.json.gz",
                                                                  marks=pytest.mark.slow)])
def test_labelled_spans_read_back_as_the_answers(name):
    path = SHARED_DATA / "squad" / name
    if not path.is_file():
        pytest.skip("needs the shared SQuAD data")
    unrecoverable, total = _round_trip(path)
    print(f"{name}: {unrecoverable} of {total} answers not recoverable from whole pieces")
    assert unrecoverable / total < 0.01  # xquad.en: 0 of 1,190; SQuAD 1.1 train: 231 of 87,599
