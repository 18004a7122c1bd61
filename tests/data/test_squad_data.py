"""SQuAD JSON and TFDS reading: versions, gzip, what is skipped (and counted), and errors that say where."""

import gzip
import json

import pytest

from electra_tf.data.squad import read_squad, read_squad_tfds
from tests.test_case import SHARED_DATA

CONTEXT = "Zoë Saldaña was born in Passaic, New Jersey, in 1978."


def _squad(questions, version="1.1", context=CONTEXT):
    return {"version": version, "data": [{"title": "Zoe", "paragraphs": [{"context": context, "qas": questions}]}]}


def _question(qid, text, answers, **extra):
    return {"id": qid, "question": text, "answers": [{"text": a, "answer_start": s} for a, s in answers], **extra}


def _write(path, content):
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


def test_reads_plain_and_gzipped_files_with_character_answer_starts(tmp_path):
    content = _squad([_question("q1", "Where was she born?", [("Passaic, New Jersey", 24), ("Passaic", 24)])])
    plain = _write(tmp_path / "train.json", content)
    zipped = tmp_path / "train.json.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, zipped):
        split = read_squad(path, training=True)
        example = split.examples[0]
        assert (split.version, example.qid, example.title, example.answers) == (
            "1.1", "q1", "Zoe", ("Passaic, New Jersey", "Passaic"))
        assert example.context[example.answer_starts[0]:].startswith("Passaic")  # characters, not bytes ("ë")
    assert read_squad(plain).gold() == {"q1": ["Passaic, New Jersey", "Passaic"]}


def test_version_comes_from_the_file_or_its_unanswerable_questions(tmp_path):
    unanswerable = _question("q2", "Who is her father?", [], is_impossible=True,
                             plausible_answers=[{"text": "Zoë", "answer_start": 0}])
    questions = [_question("q1", "When?", [("1978", 48)], is_impossible=False), unanswerable]
    assert read_squad(_write(tmp_path / "a.json", _squad(questions, version="v2.0"))).version == "2.0"
    unversioned = _squad(questions)
    del unversioned["version"]
    split = read_squad(_write(tmp_path / "b.json", unversioned))
    assert split.version == "2.0" and split.gold() == {"q1": ["1978"], "q2": []}
    assert split.examples[1].is_impossible and not split.examples[0].is_impossible


def test_answers_not_at_their_start_are_dropped_for_training_and_counted(tmp_path):
    questions = [_question("ok", "When?", [("1978", 48)]),
                 _question("shifted", "Where?", [("Passaic", 20), ("Passaic", 24)]),  # first start is wrong
                 _question("wrong", "Who?", [("Zoe", 0)])]  # the context has "Zoë"
    split = read_squad(_write(tmp_path / "train.json", _squad(questions)), training=True)
    assert [example.qid for example in split.examples] == ["ok", "shifted"]
    assert split.examples[1].answer_starts == (24,)
    assert split.skipped == {"answers not at their answer_start": 2, "questions without a usable answer": 1}
    assert len(read_squad(tmp_path / "train.json")) == 3  # evaluation keeps every gold text


def test_empty_questions_and_contexts_are_skipped_and_counted(tmp_path):
    content = _squad([_question("q1", "When?", [("1978", 48)]), _question("q2", "  ", [("1978", 48)])])
    content["data"].append({"title": "empty", "paragraphs": [{"context": "", "qas": [_question("q3", "Why?", [])]}]})
    split = read_squad(_write(tmp_path / "dev.json", content))
    assert [example.qid for example in split.examples] == ["q1"]
    assert split.skipped == {"empty question or context": 2}


def test_bad_files_are_errors_that_say_where(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [\n{"title": "x",\n "paragraphs": [}]}')
    with pytest.raises(ValueError, match=r"broken.json: not JSON \(line 3, column 17"):
        read_squad(broken)
    with pytest.raises(ValueError, match="not SQuAD JSON"):
        read_squad(_write(tmp_path / "list.json", [1, 2]))
    missing = _squad([_question("q1", "When?", [("1978", 48)]), {"id": "q2", "answers": []}])
    with pytest.raises(ValueError, match=r"missing.json: article 0, paragraph 0, question 1: malformed .*'question'"):
        read_squad(_write(tmp_path / "missing.json", missing))
    with pytest.raises(ValueError, match="no usable questions"):
        read_squad(_write(tmp_path / "none.json", _squad([_question("q", "Who?", [("Zoe", 0)])])), training=True)
    with pytest.raises(FileNotFoundError, match="No SQuAD file"):
        read_squad(tmp_path / "absent.json")


def test_tfds_squad_reads_offline_with_mock_data():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def as_dataset(self, split, *args, **kwargs):
        return tf.data.Dataset.from_tensor_slices({
            "id": ["q1", "q2"], "title": ["Zoe", "Zoe"], "context": [CONTEXT, CONTEXT],
            "question": ["When?", "Who is her father?"], "is_impossible": [False, True],
            "answers": {"text": tf.ragged.constant([["1978"], []], tf.string),
                        "answer_start": tf.ragged.constant([[48], []], tf.int32)}})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        split = read_squad_tfds("squad/v2.0", "validation")
    assert split.version == "2.0" and split.source == "tfds:squad/v2.0/validation"
    assert split.gold() == {"q1": ["1978"], "q2": []}


@pytest.mark.parametrize("name, questions", [pytest.param("v1.1/train-v1.1.json.gz", 87599, marks=pytest.mark.slow),
                                             ("v1.1/dev-v1.1.json.gz", 10570),
                                             ("v2.0/dev-v2.0.json.gz", 11873), ("xquad/xquad.zh.json", 1190)])
def test_the_shared_files_read_whole(name, questions):
    path = SHARED_DATA / "squad" / name
    if not path.is_file():
        pytest.skip("needs the shared SQuAD data")
    split = read_squad(path, training=True)
    assert len(split) == questions and not split.skipped  # the official counts; every answer at its start
