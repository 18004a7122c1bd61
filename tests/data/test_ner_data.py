"""CoNLL files: both layouts, the real files' counts, and bad input named by file and line."""

import pytest

from electra_tf.data.ner import find_split_file, read_conll, read_ner_tfds
from tests.test_case import SHARED_DATA

NER = SHARED_DATA / "ner"


def _write(tmp_path, text, name="train.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_conll2003_layout_with_document_starts(tmp_path):
    path = _write(tmp_path, "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\n\n"
                            "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n-DOCSTART- -X- O O\nBonn NNP I-NP I-LOC")
    split = read_conll(path)
    assert [s.words for s in split.sentences] == [("EU", "rejects"), ("Peter", "Blackburn"), ("Bonn",)]
    assert [s.line for s in split.sentences] == [3, 7, 10] and split.scheme == "iob1"
    assert split.tags_in("bioes") == [["S-ORG", "O"], ["B-PER", "E-PER"], ["S-LOC"]]


def test_wnut_layout_tabs_and_whitespace_only_boundaries(tmp_path):
    path = _write(tmp_path, "@paulwalk\tO\nEmpire State\tB-location\nBuilding\tI-location\n\t\n"
                            "🙂\tO\nESB\tB-creative-work\n")
    split = read_conll(path)
    assert split.sentences[0].words == ("@paulwalk", "Empire State", "Building")  # a tab keeps spaces in words
    assert split.scheme == "bio" and split.entity_types() == ["creative-work", "location"]
    assert split.sentences[1].line == 5


@pytest.mark.parametrize("name, sentences, tokens, scheme", [
    ("conll2003/eng.train", 14041, 203621, "iob1"), ("conll2003/eng.testa", 3250, 51362, "iob1"),
    ("wnut17/wnut17train.conll", 3394, 62730, "bio"), ("wnut17/emerging.test.annotated", 1287, 23394, "bio")])
def test_real_files_have_their_published_counts(name, sentences, tokens, scheme):
    if not (NER / name).is_file():
        pytest.skip("needs the shared NER data")
    split = read_conll(NER / name)
    assert (len(split), sum(map(len, split.words)), split.scheme) == (sentences, tokens, scheme)


def test_a_line_with_another_column_count_is_named(tmp_path):
    path = _write(tmp_path, "EU NNP I-NP I-ORG\nrejects VBZ O\n")
    with pytest.raises(ValueError, match=r"train.txt:2: 3 columns where the file has 4"):
        read_conll(path)


def test_a_file_without_sentences_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no sentences"):
        read_conll(_write(tmp_path, "-DOCSTART- -X- O O\n\n\n"))
    with pytest.raises(FileNotFoundError, match="No CoNLL file"):
        read_conll(tmp_path / "missing.txt")


def test_a_malformed_tag_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"train.txt:2: 'PER' is not a tag"):
        read_conll(_write(tmp_path, "a O\nb PER\n"))


def test_an_unknown_type_at_evaluation_names_the_tag_and_line(tmp_path):
    dev = read_conll(_write(tmp_path, "a O\n\nb B-PER\nc I-GPE\n", "dev.txt"))
    with pytest.raises(ValueError, match=r"dev.txt:4: tag 'I-GPE' has a type the model was not trained on"):
        dev.check_entity_types(["PER"])


def test_split_files_are_found_by_their_usual_names(tmp_path):
    for name in ("eng.train", "eng.testa"):
        _write(tmp_path, "a O\n", name)
    assert find_split_file(tmp_path, "train").name == "eng.train"
    assert find_split_file(tmp_path, "dev").name == "eng.testa" and find_split_file(tmp_path, "test") is None


def test_tfds_conll2003_reads_offline_with_mock_data():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def as_dataset(self, split, *args, **kwargs):  # two sentences with TFDS's conll2003 label ids
        return tf.data.Dataset.from_tensor_slices({
            "tokens": tf.ragged.constant([["EU", "rejects"], [], ["Peter", "B"]], tf.string),
            "ner": tf.ragged.constant([[3, 0], [], [1, 2]], tf.int64)})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        split = read_ner_tfds("conll2003", "train")
    assert split.words == [("EU", "rejects"), ("Peter", "B")] and split.source == "tfds:conll2003/train"
    assert split.tags_in("bio") == [["B-ORG", "O"], ["B-PER", "I-PER"]] and split.scheme == "bio"
    assert split.skipped_empty == 1  # an empty sentence is skipped and counted (results.json reports it)
