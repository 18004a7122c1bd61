"""Helpers the per-module tests share (after keras-hub's `TestCase`)."""

from __future__ import annotations

import json
import pathlib
import random
import re
import subprocess
import sys

import numpy as np
import keras

from electra_tf.config import ElectraConfig
from electra_tf.text import SAMPLE_CORPUS_FILE

TINY_VOCAB_SIZE = 130  # ids 0..103 follow the BERT layout; 104..129 are "words"


def _shared_data() -> pathlib.Path:
    # The real datasets: ../shared/data beside the checkout (a CI clone), else the workplace's copy.
    beside = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
    return beside if beside.is_dir() else pathlib.Path("/work/shared/data")


SHARED_DATA = _shared_data()  # tests that read it skip when a dataset is missing


def tiny_config(**overrides) -> ElectraConfig:
    """The `tiny` preset with a 130-token vocabulary and no dropout unless overridden."""
    values = dict(vocab_size=TINY_VOCAB_SIZE, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    values.update(overrides)
    return ElectraConfig.from_preset("tiny", **values)


def save_random_pretrainer(directory: pathlib.Path, seed: int | None = None) -> pathlib.Path:
    """A tiny pre-trainer with random weights (seeded when `seed` is given) and the bundled vocabulary, saved as a
    model directory; returns `directory`."""
    from electra_tf.models.pretrainer import ElectraPretrainer
    from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer

    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    ElectraPretrainer(tiny_config(vocab_size=tokenizer.vocab_size)).save_pretrained(directory, tokenizer)
    return directory


def random_batch(batch_size: int = 4, sequence_length: int = 16, *, seed: int = 0,
                 lengths: list[int] | None = None, vocab_size: int = TINY_VOCAB_SIZE) -> dict[str, np.ndarray]:
    """[CLS] w w ... [SEP] [PAD]... examples with random word ids >= 104 and the given real lengths."""
    rng = np.random.default_rng(seed)
    if lengths is None:
        lengths = list(rng.integers(sequence_length // 2, sequence_length + 1, size=batch_size))
    token_ids = np.zeros((batch_size, sequence_length), np.int32)
    segment_ids = np.zeros_like(token_ids)
    for row, length in enumerate(lengths):
        token_ids[row, :length] = rng.integers(104, vocab_size, size=length)
        token_ids[row, 0], token_ids[row, length - 1] = 101, 102
        segment_ids[row, length // 2:length] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": (token_ids > 0).astype(np.int32)}


def run_config_round_trip(layer: keras.layers.Layer, *call_args, **call_kwargs) -> None:
    """`from_config(get_config())` rebuilds the layer; with the same weights it computes the same output."""
    expected = layer(*call_args, **call_kwargs)
    clone = layer.__class__.from_config(layer.get_config())
    clone(*call_args, **call_kwargs)
    assert clone.get_config() == layer.get_config()
    clone.set_weights(layer.get_weights())
    actual = clone(*call_args, **call_kwargs)
    for a, b in zip(keras.tree.flatten(actual), keras.tree.flatten(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def _outputs(model: keras.Model, inputs) -> list[np.ndarray]:
    """A model's outputs on `inputs` as arrays, whatever their structure (tensor, dict, dataclass)."""
    outputs = model(inputs)
    if hasattr(outputs, "__dataclass_fields__"):
        outputs = {name: getattr(outputs, name) for name in outputs.__dataclass_fields__}
    return [np.asarray(value) for value in keras.tree.flatten(outputs)]


def run_model_contracts(model: keras.Model, inputs, tmp_path: pathlib.Path) -> None:
    """What every model passes (as keras-hub's `run_model_saving_test`): with dropout off, the same outputs from
    `from_config(get_config())` with its weights, from a `.keras` file, and from its model directory."""
    expected = _outputs(model, inputs)
    tmp_path.mkdir(parents=True, exist_ok=True)
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    path = tmp_path / f"{model.TASK_TYPE}.keras"
    model.save(path)
    directory = tmp_path / f"{model.TASK_TYPE}_directory"
    model.save_pretrained(directory)
    for source, restored in (("config", clone), (".keras", keras.saving.load_model(path)),
                             ("directory", model.__class__.from_pretrained(directory))):
        assert type(restored) is type(model), source
        for actual, wanted in zip(_outputs(restored, inputs), expected, strict=True):
            np.testing.assert_allclose(actual, wanted, atol=1e-6, err_msg=source)


def serve_in_fresh_process(saved_model: pathlib.Path, inputs: dict[str, list], signature: str = "serving_default") -> dict:
    """The answer of an exported SavedModel's signature, computed in a new interpreter that imports only
    tensorflow and tensorflow_text (as TF Serving would load it): a dict of lists (strings decoded)."""
    script = (
        "import json, sys\n"
        "import tensorflow as tf, tensorflow_text\n"
        f"model = tf.saved_model.load({str(saved_model)!r})\n"
        f"out = model.signatures[{signature!r}](**{{k: tf.constant(v) for k, v in {inputs!r}.items()}})\n"
        "assert not any(name.startswith('electra_tf') for name in sys.modules)\n"
        "decode = lambda x: x.decode() if isinstance(x, bytes) else [decode(y) for y in x]\n"
        "print(json.dumps({k: v.numpy().tolist() if v.dtype != tf.string else decode(v.numpy().tolist())"
        " for k, v in out.items()}))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def xla_compiled_functions(graph_def) -> int:
    """How many functions of a `GraphDef`'s library (a traced function's, or a SavedModel's) XLA must compile."""
    return sum(function.attr["_XlaMustCompile"].b for function in graph_def.library.function)


PLACES = {"England", "France", "London", "Paris", "Rome", "America", "Bath", "Lyme", "Uppercross", "Kellynch"}
PEOPLE = {"Anne", "Alice", "Elliot", "Wentworth", "Russell", "Walter", "Charles", "Musgrove", "Mary", "Louisa",
          "Flambeau", "Elizabeth", "Harville", "Benwick", "Henrietta"}


def _write_conll(path: pathlib.Path, sentences) -> None:
    path.write_text("".join("".join(f"{word} {tag}\n" for word, tag in sentence) + "\n" for sentence in sentences),
                    encoding="utf-8")


def write_gazetteer_ner(root: pathlib.Path) -> None:
    """`train.txt`, `dev.txt`, `test.txt` (100/30/30 sentences) of the bundled corpus's sentences that name a few
    places (LOC) or people (PER); consecutive names are one entity (IOB1 tags, as CoNLL-2003's)."""
    sentences = []
    for line in SAMPLE_CORPUS_FILE.read_text(encoding="utf-8").splitlines():
        words = re.findall(r"\w+|[^\w\s]", line)
        if not 3 <= len(words) <= 40 or not (PLACES | PEOPLE) & set(words):
            continue
        tags = ["I-LOC" if word in PLACES else "I-PER" if word in PEOPLE else "O" for word in words]
        sentences.append(list(zip(words, tags)))
    random.Random(0).shuffle(sentences)  # both types in every split
    root.mkdir(parents=True, exist_ok=True)
    _write_conll(root / "train.txt", sentences[:100])
    _write_conll(root / "dev.txt", sentences[100:130])
    _write_conll(root / "test.txt", sentences[130:160])


def write_fact_squad(root: pathlib.Path, version: str = "1.1", train_questions: int = 300,
                     dev_questions: int = 60) -> tuple[pathlib.Path, pathlib.Path]:
    """`train.json` and `dev.json` in SQuAD format: contexts of the bundled corpus's sentences with a fact
    sentence ("Alice was born in Paris.") inserted, and the question "Where was Alice born?"; for SQuAD 2.0,
    a third of the contexts have no fact and their question no answer. Returns the two paths."""
    rng = random.Random(0)
    corpus = [line for line in SAMPLE_CORPUS_FILE.read_text(encoding="utf-8").splitlines() if 5 <= len(line) < 200]
    people, places = sorted(PEOPLE), sorted(PLACES)

    def article(count: int, prefix: str) -> dict:
        paragraphs = []
        for number in range(count):
            sentences = rng.sample(corpus, rng.randint(1, 4))
            person, place = rng.choice(people), rng.choice(places)
            qa = {"id": f"{prefix}{number}", "question": f"Where was {person} born?", "answers": []}
            if version == "1.1" or number % 3:
                fact = f"{person} was born in {place}."
                sentences.insert(rng.randint(0, len(sentences)), fact)
                context = " ".join(sentences)
                qa["answers"] = [{"text": place, "answer_start": context.index(fact) + len(fact) - len(place) - 1}]
            else:
                context = " ".join(sentences)
                qa["is_impossible"] = True
            paragraphs.append({"context": context, "qas": [qa]})
        return {"version": version, "data": [{"title": prefix, "paragraphs": paragraphs}]}

    root.mkdir(parents=True, exist_ok=True)
    paths = root / "train.json", root / "dev.json"
    for path, count, prefix in zip(paths, (train_questions, dev_questions), ("train", "dev")):
        path.write_text(json.dumps(article(count, prefix)), encoding="utf-8")
    return paths


def write_synthetic_sst2(root: pathlib.Path) -> None:
    """An SST-2-layout folder (600 train, 200 dev, 100 test sentences of the bundled corpus) whose label is whether
    the sentence mentions the queen or the king (learnable quickly)."""
    lines = [line for line in SAMPLE_CORPUS_FILE.read_text().splitlines() if 20 < len(line) < 120][:900]
    rows = [(line, int("queen" in line.lower() or "king" in line.lower())) for line in lines]
    (root / "SST-2").mkdir(parents=True)
    write = lambda name, part: (root / "SST-2" / name).write_text(
        "sentence\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in part))
    write("train.tsv", rows[:600])
    write("dev.tsv", rows[600:800])
    (root / "SST-2" / "test.tsv").write_text(
        "index\tsentence\n" + "".join(f"{i}\t{text}\n" for i, (text, _) in enumerate(rows[800:])))


class AtStep(keras.callbacks.Callback):
    """Calls `action` after training step `step` (counted from the start of `fit`), counting the steps it sees."""

    def __init__(self, step: int, action=None):
        super().__init__()
        self.step, self.action, self.seen = step, action, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step and self.action:
            self.action()
