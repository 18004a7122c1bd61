import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from electra_tf.data.glue import (
    GLUE_TASKS,
    GlueSplit,
    double_unordered,
    get_task,
    glue_dataset,
    read_glue_tfds,
    read_glue_tsv,
)
from electra_tf.text import SAMPLE_VOCAB_FILE, ElectraPreprocessor, WordPieceTokenizer
from electra_tf.training import recipes
from tests.test_case import SHARED_DATA

GLUE_DIR = SHARED_DATA / "glue"
NLI3 = ("entailment", "neutral", "contradiction")
NLI2 = ("entailment", "not_entailment")

# name: (label names, pair, TFDS text keys, metrics, TFDS name, folder, epochs, double_unordered)
EXPECTED_TASKS = {
    "cola": (("0", "1"), False, ("sentence",), ("mcc",), "glue/cola", "CoLA", 3, False),
    "sst2": (("0", "1"), False, ("sentence",), ("accuracy",), "glue/sst2", "SST-2", 3, False),
    "mrpc": (("0", "1"), True, ("sentence1", "sentence2"), ("accuracy", "f1"), "glue/mrpc", "MRPC", 3, True),
    "stsb": (None, True, ("sentence1", "sentence2"), ("pearson", "spearman"), "glue/stsb", "STS-B", 10, True),
    "qqp": (("0", "1"), True, ("question1", "question2"), ("accuracy", "f1"), "glue/qqp", "QQP", 3, False),
    "mnli": (NLI3, True, ("premise", "hypothesis"), ("accuracy",), "glue/mnli", "MNLI", 3, False),
    "qnli": (NLI2, True, ("question", "sentence"), ("accuracy",), "glue/qnli", "QNLI", 3, False),
    "rte": (NLI2, True, ("sentence1", "sentence2"), ("accuracy",), "glue/rte", "RTE", 10, False),
    "wnli": (("0", "1"), True, ("sentence1", "sentence2"), ("accuracy",), "glue/wnli", "WNLI", 3, False),
    "ax": (NLI3, True, ("premise", "hypothesis"), ("mcc",), "glue/ax", "diagnostic", 0, False),
}
# TFDS's ClassLabel names, in id order: the leaderboard names above must line up with them.
TFDS_CLASSES = {
    "cola": ("unacceptable", "acceptable"), "sst2": ("negative", "positive"),
    "mrpc": ("not_equivalent", "equivalent"), "qqp": ("not_duplicate", "duplicate"), "mnli": NLI3,
    "qnli": NLI2, "rte": NLI2, "wnli": ("not_entailment", "entailment"), "ax": NLI3,
}
EXPECTED_FILES = {  # split -> (file, TFDS split, prediction file)
    **{name: {"train": ("train.tsv", "train", None), "dev": ("dev.tsv", "validation", None),
              "test": ("test.tsv", "test", prediction)}
       for name, prediction in [("cola", "CoLA.tsv"), ("sst2", "SST-2.tsv"), ("mrpc", "MRPC.tsv"),
                                ("stsb", "STS-B.tsv"), ("qqp", "QQP.tsv"), ("qnli", "QNLI.tsv"),
                                ("rte", "RTE.tsv"), ("wnli", "WNLI.tsv")]},
    "mnli": {"train": ("train.tsv", "train", None),
             "dev_matched": ("dev_matched.tsv", "validation_matched", None),
             "dev_mismatched": ("dev_mismatched.tsv", "validation_mismatched", None),
             "test_matched": ("test_matched.tsv", "test_matched", "MNLI-m.tsv"),
             "test_mismatched": ("test_mismatched.tsv", "test_mismatched", "MNLI-mm.tsv")},
    "ax": {"test": ("diagnostic.tsv", "test", "AX.tsv")},
}


@pytest.fixture(scope="module")
def preprocessor():
    return ElectraPreprocessor(WordPieceTokenizer(SAMPLE_VOCAB_FILE), sequence_length=16)


def _write(path: pathlib.Path, lines: list[list[str]]) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(fields) + "\n" for fields in lines), encoding="utf-8")
    return path


# --- The task table ---
def test_task_table_matches_the_expected_table():
    assert list(GLUE_TASKS) == list(EXPECTED_TASKS)
    for name, (labels, pair, keys, metrics, tfds_name, folder, epochs, double) in EXPECTED_TASKS.items():
        task = GLUE_TASKS[name]
        assert (task.name, task.label_names, task.text_pair, task.text_keys, task.metric_names) == (
            name, labels, pair, keys, metrics), name
        assert (task.tfds_name, task.local_dir, recipes.TASK_EPOCHS.get(name, recipes.EPOCHS),
                task.double_unordered) == (tfds_name, folder, epochs, double), name
        assert task.is_regression == (name == "stsb") and task.num_classes == (len(labels) if labels else 1)
        assert len(task.text_keys) == (2 if pair else 1)
        assert {f.split: (f.file_name, f.tfds_split, f.prediction_file) for f in task.files} == EXPECTED_FILES[name]
        for file in task.files:
            assert len(file.text_columns) == len(task.text_keys)
            assert file.is_test == file.split.startswith("test") == (file.prediction_file is not None)
            assert (file.index_column is not None) == file.is_test


def test_get_task_by_name_and_unknown_task():
    assert get_task("SST-2") is GLUE_TASKS["sst2"] and get_task("STS-B").name == "stsb"
    assert get_task(GLUE_TASKS["rte"]) is GLUE_TASKS["rte"]
    with pytest.raises(ValueError, match=r"Unknown GLUE task 'squad'.*cola, sst2, mrpc.*wnli, ax"):
        get_task("squad")
    with pytest.raises(ValueError, match=r"no split 'validation_matched'.*\['train', 'dev', 'test'\]"):
        GLUE_TASKS["rte"].file("validation_matched")


def test_tfds_builders_agree_with_the_table(tmp_path):
    # Builders are made from TFDS's code; nothing is downloaded.
    for name, classes in TFDS_CLASSES.items():
        info = tfds.builder(GLUE_TASKS[name].tfds_name, data_dir=tmp_path).info
        assert tuple(info.features["label"].names) == classes, name
        assert set(info.features) == {*GLUE_TASKS[name].text_keys, "label", "idx"}, name


# --- Local tsv files: the real copies in shared/data (skipped when absent) ---
# Row counts and label counts as the data READMEs state them. The first row is checked against the raw line
# split at tabs with these hand-written field positions (header lines, text fields, label field), so no GLUE
# text is copied here.
RAW_LAYOUT = {"cola": (0, (3,), 1), "sst2": (1, (0,), 1), "mrpc": (1, (3, 4), 0), "rte": (1, (1, 2), 3),
              "stsb": (1, (7, 8), 9)}
REAL = [  # task, split, rows, label counts (by id) or score range
    ("cola", "train", 8551, [2528, 6023]), ("cola", "dev", 1043, [322, 721]),
    ("sst2", "train", 67349, [29780, 37569]), ("sst2", "dev", 872, [428, 444]),
    ("mrpc", "train", 3668, [1194, 2474]), ("mrpc", "dev", 408, [129, 279]),
    ("rte", "train", 2490, [1249, 1241]), ("rte", "dev", 277, [146, 131]),
    ("stsb", "train", 5749, (0.0, 5.0)), ("stsb", "dev", 1500, (0.0, 5.0)),
]


@pytest.mark.skipif(not GLUE_DIR.is_dir(), reason="no local GLUE copy in the shared data")
@pytest.mark.parametrize("name, split, rows, counts", REAL, ids=[f"{r[0]}-{r[1]}" for r in REAL])
def test_real_glue_files(name, split, rows, counts):
    task = GLUE_TASKS[name]
    if not (GLUE_DIR / task.local_dir).is_dir():
        pytest.skip(f"no local {name}")
    data = read_glue_tsv(name, GLUE_DIR, split)
    assert len(data) == rows and len(data.texts) == (2 if task.text_pair else 1)
    assert data.indices is None
    if name == "stsb":
        assert data.labels.dtype == np.float32 and (data.labels.min(), data.labels.max()) == counts
    else:
        assert data.labels.dtype == np.int32 and np.bincount(data.labels).tolist() == counts
    header_lines, text_fields, label_field = RAW_LAYOUT[name]
    lines = (GLUE_DIR / task.local_dir / f"{split}.tsv").read_text(encoding="utf-8-sig").split("\n")
    fields = lines[header_lines].split("\t")
    assert tuple(texts[0] for texts in data.texts) == tuple(fields[i] for i in text_fields)
    if name == "stsb":
        assert data.labels[0] == np.float32(fields[label_field])
    else:
        assert task.label_names[data.labels[0]] == fields[label_field]
    assert all(text.strip() for texts in data.texts for text in texts)


@pytest.mark.skipif(not GLUE_DIR.is_dir(), reason="no local GLUE copy in the shared data")
@pytest.mark.parametrize("name", ["cola", "sst2", "rte", "stsb"])
def test_real_files_give_the_same_examples_and_label_ids_as_tfds_code(name, tmp_path):
    """TFDS's own GLUE example generator, run on the same file, gives our texts and label ids."""
    if not (GLUE_DIR / GLUE_TASKS[name].local_dir).is_dir():
        pytest.skip(f"no local {name}")
    _check_same_as_tfds(name, GLUE_DIR / GLUE_TASKS[name].local_dir / "dev.tsv", "dev",
                        read_glue_tsv(name, GLUE_DIR, "dev"), tmp_path)


def _check_same_as_tfds(name, path, tfds_file_split, data, tmp_path):
    task = GLUE_TASKS[name]
    builder = tfds.builder(task.tfds_name, data_dir=tmp_path)
    examples = [example for _, example in builder._generate_examples(str(path), tfds_file_split)]
    assert len(examples) == len(data)
    for i, key in enumerate(task.text_keys):
        assert [example[key] for example in examples] == data.texts[i]
    label = builder.info.features["label"]
    if task.is_regression:
        np.testing.assert_allclose([example["label"] for example in examples], data.labels)
    else:
        assert [label.encode_example(example["label"]) for example in examples] == data.labels.tolist()


# --- Local tsv files: synthetic files for the layouts not shipped ---
MNLI_HEAD = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
             "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]
SYNTHETIC = {  # (task, split): (file lines, expected texts, expected labels (ids) or test indices)
    ("qqp", "train"): ([["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
                        ["7", "1", "2", 'Is "tea" hot?', "Is coffee hot?", "0"],
                        ["9", "3", "4", "How do I cook?", "How do you cook?", "1"]],
                       (['Is "tea" hot?', "How do I cook?"], ["Is coffee hot?", "How do you cook?"]), [0, 1]),
    ("qqp", "test"): ([["id", "question1", "question2"], ["0", "Why?", "How?"], ["1", "Who?", "When?"]],
                      (["Why?", "Who?"], ["How?", "When?"]), ["0", "1"]),
    ("mnli", "train"): ([MNLI_HEAD + ["label1", "gold_label"],
                         ["0", "1", "1e", "fiction", "( a )", "( b )", "(ROOT a)", "(ROOT b)", "A man sat.",
                          "A person sat.", "entailment", "entailment"],
                         ["1", "2", "2c", "slate", "( c )", "( d )", "(ROOT c)", "(ROOT d)", "It is red.",
                          "It is blue.", "contradiction", "contradiction"]],
                        (["A man sat.", "It is red."], ["A person sat.", "It is blue."]), [0, 2]),
    ("mnli", "dev_matched"): ([MNLI_HEAD + ["label1", "label2", "label3", "label4", "label5", "gold_label"],
                               ["0", "1", "1n", "travel", "( a )", "( b )", "(ROOT a)", "(ROOT b)", "We left.",
                                "We left early.", "neutral", "neutral", "entailment", "neutral", "neutral",
                                "neutral"]],
                              (["We left."], ["We left early."]), [1]),
    ("mnli", "dev_mismatched"): ([MNLI_HEAD + ["label1", "label2", "label3", "label4", "label5", "gold_label"],
                                  ["0", "1", "1c", "letters", "( a )", "( b )", "(ROOT a)", "(ROOT b)", "Yes.",
                                   "No.", "contradiction", "", "", "", "", "contradiction"]],
                                 (["Yes."], ["No."]), [2]),
    ("mnli", "test_matched"): ([MNLI_HEAD, ["5", "1", "1", "travel", "( a )", "( b )", "(ROOT a)", "(ROOT b)",
                                            "Go.", "Stay."]], (["Go."], ["Stay."]), ["5"]),
    ("mnli", "test_mismatched"): ([MNLI_HEAD, ["3", "1", "1", "verbatim", "( a )", "( b )", "(ROOT a)",
                                               "(ROOT b)", "Up.", "Down."]], (["Up."], ["Down."]), ["3"]),
    ("qnli", "dev"): ([["index", "question", "sentence", "label"],
                       ["0", "Where is it?", "It is here.", "entailment"],
                       ["1", "Who ran?", "Nobody knows.", "not_entailment"]],
                      (["Where is it?", "Who ran?"], ["It is here.", "Nobody knows."]), [0, 1]),
    ("qnli", "test"): ([["index", "question", "sentence"], ["0", "What?", "That."]], (["What?"], ["That."]), ["0"]),
    ("wnli", "train"): ([["index", "sentence1", "sentence2", "label"], ["0", "He ran.", "The dog ran.", "1"],
                         ["1", "She sat.", "The cat sat.", "0"]],
                        (["He ran.", "She sat."], ["The dog ran.", "The cat sat."]), [1, 0]),
    ("wnli", "test"): ([["index", "sentence1", "sentence2"], ["0", "It fell.", "The cup fell."]],
                       (["It fell."], ["The cup fell."]), ["0"]),
    ("ax", "test"): ([["index", "sentence1", "sentence2"], ["0", "A b.", "C d."], ["1", "E f.", "G h."]],
                     (["A b.", "E f."], ["C d.", "G h."]), ["0", "1"]),
    ("cola", "test"): ([["index", "sentence"], ["0", 'A "quoted word.'], ["1", "Fine."]],
                       (['A "quoted word.', "Fine."],), ["0", "1"]),
    ("sst2", "test"): ([["index", "sentence"], ["0", "great film . "]], (["great film . "],), ["0"]),
    ("mrpc", "test"): ([["index", "#1 ID", "#2 ID", "#1 String", "#2 String"], ["0", "11", "12", "Sun.", "Moon."]],
                       (["Sun."], ["Moon."]), ["0"]),
    ("stsb", "test"): ([["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1",
                         "sentence2"], ["0", "main-news", "headlines", "2016", "0001", "none", "none", "X.", "Y."]],
                       (["X."], ["Y."]), ["0"]),
    ("rte", "test"): ([["index", "sentence1", "sentence2"], ["0", "P.", "H."]], (["P."], ["H."]), ["0"]),
}


@pytest.mark.parametrize("name, split", list(SYNTHETIC), ids=[f"{n}-{s}" for n, s in SYNTHETIC])
def test_synthetic_glue_layouts(name, split, tmp_path):
    lines, texts, expected = SYNTHETIC[name, split]
    task = GLUE_TASKS[name]
    _write(tmp_path / task.local_dir / task.file(split).file_name, lines)
    data = read_glue_tsv(name, tmp_path, split)
    assert data.texts == texts
    if split.startswith("test"):
        assert data.labels is None and data.indices == expected
    else:
        assert data.indices is None and data.labels.dtype == np.int32 and data.labels.tolist() == expected


@pytest.mark.parametrize("name, split", [("qqp", "train"), ("mnli", "dev_matched"), ("qnli", "dev"),
                                         ("wnli", "train")])
def test_synthetic_files_give_the_same_label_ids_as_tfds_code(name, split, tmp_path):
    lines, _, _ = SYNTHETIC[name, split]
    task = GLUE_TASKS[name]
    path = _write(tmp_path / task.local_dir / task.file(split).file_name, lines)
    _check_same_as_tfds(name, path, "dev" if "dev" in split else "train", read_glue_tsv(name, tmp_path, split),
                        tmp_path)


def test_mrpc_bom_and_cola_without_header(tmp_path):
    path = tmp_path / "MRPC" / "train.tsv"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA \"b.\tC.\n")
    assert read_glue_tsv("mrpc", tmp_path, "train").texts == (['A "b.'], ["C."])
    _write(tmp_path / "CoLA" / "dev.tsv", [["gj04", "0", "*", "Him left."], ["gj04", "1", "", "He left."]])
    (tmp_path / "CoLA" / "dev.tsv").write_text((tmp_path / "CoLA" / "dev.tsv").read_text() + "\n")  # blank line
    data = read_glue_tsv("cola", tmp_path, "dev")
    assert data.texts == (["Him left.", "He left."],) and data.labels.tolist() == [0, 1]


# --- Bad inputs ---
def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No GLUE rte dev file at .*RTE/dev\.tsv"):
        read_glue_tsv("rte", tmp_path, "dev")
    with pytest.raises(ValueError, match="Unknown GLUE task 'rtee'"):
        read_glue_tsv("rtee", tmp_path, "dev")
    with pytest.raises(ValueError, match=r"mnli' has no split 'dev'; its splits are \['train', 'dev_matched'"):
        read_glue_tsv("mnli", tmp_path, "dev")
    rte = tmp_path / "RTE" / "dev.tsv"
    _write(rte, [["index", "sentence1", "sentence2", "label"], ["0", "A.", "B.", "entailment"],
                 ["1", "C.", "D.", "neutral"]])
    with pytest.raises(ValueError, match=r"line 3 of .*dev\.tsv: label 'neutral' is not one of the rte labels "
                                         r"\['entailment', 'not_entailment'\]"):
        read_glue_tsv("rte", tmp_path, "dev")
    _write(rte, [["index", "premise", "sentence2", "label"], ["0", "A.", "B.", "entailment"]])
    with pytest.raises(ValueError, match=r"dev\.tsv has no column 'sentence1'; its header is \['index', 'premise'"):
        read_glue_tsv("rte", tmp_path, "dev")
    _write(rte, [["index", "sentence1", "sentence2", "label"], ["0", "A.", "B.", "entailment"],
                 ["1", "C.", " ", "entailment"]])
    with pytest.raises(ValueError, match=r"line 3 of .*dev\.tsv has an empty text; pass allow_empty=True"):
        read_glue_tsv("rte", tmp_path, "dev")
    assert read_glue_tsv("rte", tmp_path, "dev", allow_empty=True).texts[1] == ["B.", " "]
    _write(rte, [["index", "sentence1", "sentence2", "label"], ["0", "A.", "B."]])
    with pytest.raises(ValueError, match=r"line 2 of .*dev\.tsv has 3 tab-separated fields, expected at least 4"):
        read_glue_tsv("rte", tmp_path, "dev")
    stsb = _write(tmp_path / "STS-B" / "train.tsv", [
        ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"],
        ["0", "g", "f", "2012", "1", "none", "none", "A.", "B.", "4.2"],
        ["1", "g", "f", "2012", "2", "none", "none", "C.", "D.", "high"]])
    with pytest.raises(ValueError, match=r"line 3 of .*train\.tsv: the stsb score 'high' is not a number"):
        read_glue_tsv("stsb", tmp_path, "train")
    stsb.write_text(stsb.read_text().replace("high", "nan"))
    with pytest.raises(ValueError, match="score 'nan' is not a number"):
        read_glue_tsv("stsb", tmp_path, "train")


# --- TFDS ---
@pytest.mark.parametrize("name, split, pair", [("cola", "train", False), ("sst2", "validation", False),
                                               ("stsb", "dev", True), ("mnli", "validation_mismatched", True),
                                               ("mnli", "dev_matched", True), ("mrpc", "train", True)])
def test_read_glue_tfds_with_mock_data(name, split, pair):
    task = GLUE_TASKS[name]
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        data = read_glue_tfds(name, split)
    assert len(data) == 6 and len(data.texts) == (2 if pair else 1)
    assert all(isinstance(text, str) and text for texts in data.texts for text in texts)
    assert data.indices is None
    if task.is_regression:
        assert data.labels.dtype == np.float32
    else:
        assert data.labels.dtype == np.int32 and set(data.labels.tolist()) <= set(range(task.num_classes))


@pytest.mark.parametrize("name, split", [("mnli", "test_matched"), ("ax", "test"), ("cola", "test")])
def test_read_glue_tfds_test_splits_have_indices_not_labels(name, split):
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
        data = read_glue_tfds(name, split)
    assert len(data) == 4 and data.labels is None and all(index.isdigit() for index in data.indices)


def test_read_glue_tfds_maps_local_split_names_and_keeps_slices(monkeypatch):
    calls = []

    def load(name, split, data_dir, download):
        calls.append((name, split, data_dir, download))
        raise AssertionError("not prepared")

    monkeypatch.setattr(tfds, "load", load)
    for split in ("dev", "validation[:10%]", "dev_mismatched[5:]", "test"):
        with pytest.raises(FileNotFoundError):
            read_glue_tfds("mnli" if "mismatched" in split else "sst2", split, data_dir="/data")
    assert calls == [("glue/sst2", "validation", "/data", False), ("glue/sst2", "validation[:10%]", "/data", False),
                     ("glue/mnli", "validation_mismatched[5:]", "/data", False), ("glue/sst2", "test", "/data", False)]


def test_read_glue_tfds_unprepared_data(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'glue/rte' is not prepared"):
        read_glue_tfds("rte", "validation", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="no split 'dev'"):
        read_glue_tfds("ax", "dev", data_dir=str(tmp_path))


# --- double_unordered and the tf.data input ---
def test_double_unordered_doubles_and_swaps():
    split = GlueSplit((["a1", "a2"], ["b1", "b2"]), np.array([0.5, 4.0], np.float32))
    both = double_unordered(split)
    assert both.texts == (["a1", "a2", "b1", "b2"], ["b1", "b2", "a1", "a2"])
    assert both.labels.tolist() == [0.5, 4.0, 0.5, 4.0] and both.labels.dtype == np.float32
    test = double_unordered(GlueSplit((["a"], ["b"]), None, ["7"]))
    assert test.labels is None and test.indices == ["7", "7"]
    with pytest.raises(ValueError, match="needs sentence pairs"):
        double_unordered(GlueSplit((["a", "b"],), np.array([0, 1])))
    with pytest.raises(ValueError, match="differ in length"):
        GlueSplit((["a", "b"], ["c"]), np.array([0, 1]))


def test_glue_dataset_single_sentences(preprocessor):
    split = GlueSplit((["the cat sat on the mat .", "a dog", "it rained all day long", "no", "yes"],),
                      np.array([1, 0, 1, 0, 1], np.int32))
    batches = list(glue_dataset(split, preprocessor, batch_size=2, shuffle=False))
    assert [x["token_ids"].shape.as_list() for x, _ in batches] == [[2, 16], [2, 16], [1, 16]]
    assert {x["segment_ids"].numpy().max() for x, _ in batches} == {0}
    assert all(y.dtype == tf.int32 for _, y in batches)
    assert np.concatenate([y.numpy() for _, y in batches]).tolist() == [1, 0, 1, 0, 1]
    expected = preprocessor(["the cat sat on the mat .", "a dog"])
    for key in ("token_ids", "segment_ids", "padding_mask"):
        np.testing.assert_array_equal(batches[0][0][key], expected[key])


def test_glue_dataset_pairs_regression_shuffle_and_test(preprocessor):
    first = [f"sentence number {i}" for i in range(10)]
    split = GlueSplit((first, ["the other one"] * 10), np.linspace(0, 5, 10).astype(np.float32))
    batches = list(glue_dataset(split, preprocessor, batch_size=4, shuffle=True, seed=3))
    assert [y.shape.as_list() for _, y in batches] == [[4], [4], [2]] and batches[0][1].dtype == tf.float32
    assert all(x["segment_ids"].numpy().max() == 1 for x, _ in batches)
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(labels.tolist()) == split.labels.tolist() and labels.tolist() != split.labels.tolist()
    again = np.concatenate([y.numpy() for _, y in glue_dataset(split, preprocessor, 4, shuffle=True, seed=3)])
    np.testing.assert_array_equal(labels, again)  # same seed, same order
    test = glue_dataset(GlueSplit((["a b", "c"], ["d", "e f"]), None, ["0", "1"]), preprocessor, 8, shuffle=False)
    (x,) = list(test)
    assert isinstance(x, dict) and x["token_ids"].shape.as_list() == [2, 16]
    single_test = next(iter(glue_dataset(GlueSplit((["a b"],), None, ["0"]), preprocessor, 8, shuffle=False)))
    assert single_test["token_ids"].shape.as_list() == [1, 16]
