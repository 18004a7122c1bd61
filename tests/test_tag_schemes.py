"""Tag schemes: conlleval's chunks, lossless conversions, detection and the CRF's transition constraints."""

import pytest

from electra_tf.tag_schemes import (allowed_transitions, chunks, convert, detect_scheme, label_names,
                                    scheme_of_labels, split_tag)
from tests.test_case import SHARED_DATA


def test_tags_split_at_the_first_hyphen():
    assert split_tag("B-creative-work") == ("B", "creative-work") and split_tag("O") == ("O", "")


@pytest.mark.parametrize("tags, expected", [
    (["O", "I-PER", "I-PER"], [("PER", 1, 3)]),            # I- after O opens a chunk
    (["B-PER", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 2)]),   # a type change opens one
    (["I-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),
    (["B-PER", "E-PER", "S-LOC", "O"], [("PER", 0, 2), ("LOC", 2, 3)]),
])
def test_chunks_follow_conlleval(tags, expected):
    assert chunks(tags) == expected


IOB1 = ["I-ORG", "O", "I-MISC", "O", "I-PER", "I-PER", "B-PER", "O", "I-LOC", "B-LOC", "I-LOC"]


def test_conversions_round_trip():
    bio = convert(IOB1, "bio")
    assert bio == ["B-ORG", "O", "B-MISC", "O", "B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-LOC", "I-LOC"]
    bioes = convert(IOB1, "bioes")
    assert bioes == ["S-ORG", "O", "S-MISC", "O", "B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-LOC", "E-LOC"]
    assert convert(bio, "iob1") == IOB1 and convert(bioes, "iob1") == IOB1
    assert convert(bioes, "bio") == bio and convert(bio, "bioes") == bioes


@pytest.mark.parametrize("name", ["conll2003/eng.train", "wnut17/wnut17train.conll"])
def test_real_files_round_trip_through_both_training_schemes(name):
    from electra_tf.data.ner import read_conll

    path = SHARED_DATA / "ner" / name
    if not path.is_file():
        pytest.skip("needs the shared NER data")
    split = read_conll(path)
    original = split.tags_in(split.scheme)
    for scheme in ("bio", "bioes"):
        converted = split.tags_in(scheme)
        assert [convert(tags, split.scheme) for tags in converted] == original, scheme
        assert [chunks(tags) for tags in converted] == [chunks(tags) for tags in original]


def test_scheme_detection():
    assert detect_scheme([IOB1]) == "iob1"
    assert detect_scheme([convert(IOB1, "bio")]) == "bio"
    assert detect_scheme([convert(IOB1, "bioes")]) == "bioes"
    assert detect_scheme([["O", "O"]]) == "bio"


def test_label_names_and_constraints():
    names = label_names(["PER", "LOC", "PER"], "bio")
    assert names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"] and scheme_of_labels(names) == "bio"
    allowed, start, end = allowed_transitions(names)
    index = names.index
    assert not allowed[index("O")][index("I-PER")] and not allowed[index("B-LOC")][index("I-PER")]
    assert allowed[index("B-PER")][index("I-PER")] and allowed[index("I-PER")][index("B-PER")]
    assert start == [True, True, False, True, False] and all(end)
    names = label_names(["PER"], "bioes")
    allowed, start, end = allowed_transitions(names)
    assert names == ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    assert [names[j] for j in range(5) if allowed[names.index("B-PER")][j]] == ["I-PER", "E-PER"]
    assert [names[j] for j in range(5) if allowed[names.index("E-PER")][j]] == ["O", "B-PER", "S-PER"]
    assert end == [True, False, False, True, True]
