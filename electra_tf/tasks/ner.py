"""Named-entity recognition as a fine-tuning task: CoNLL files (or TFDS `conll2003`), the token classifier
(optionally with a CRF), conlleval's entity F1, and CoNLL prediction files conlleval.pl reads unchanged.

The label set is the training data's entity types in the training scheme (BIO, or the original's BIOES), saved
with the model; a dev or test tag of another type is an error naming its file and line. Predictions are
decoded per sentence (all its windows' words together, Viterbi over the whole sentence with a CRF) and scored
in the file's own scheme (IOB1 files stay IOB1; a BIOES file is scored as BIO, which conlleval reads).
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import tensorflow as tf

from electra_tf.data.ner import NerSplit, find_split_file, read_conll, read_ner_tfds
from electra_tf.data.pipeline import prefetched
from electra_tf.evaluation.ner import entity_scores, write_conll_predictions
from electra_tf.models.token_classifier import ElectraTokenClassifier
from electra_tf.tag_schemes import TRAINING_SCHEMES, convert, label_names

PREDICTIONS_DIR = "predictions"


class NerFinetuning:
    """NER for `run_finetuning`: train on the train split, select on dev, also score test when it is labelled.

    Args:
        data_dir: path or None. A folder with the splits under their usual names (`train.txt`/`dev.txt`/
            `test.txt`, CoNLL-2003's `eng.train`/`eng.testa`/`eng.testb`, WNUT-17's files).
        train_file, dev_file, test_file: paths or None. Files given one by one (they win over `data_dir`).
        scheme: `bio` or `bioes`. The tags the model learns. Defaults to `bio`.
        crf: bool. A CRF on the tagger. Defaults to `False`.
        crf_constraints: bool. Forbid illegal transitions in the CRF. Defaults to `True`.
        tag_column: int. The files' tag column. Defaults to the last.
        tfds_name: str or None. Read the TFDS dataset (`conll2003`: train, dev, test) instead of files.
        tfds_data_dir: str or None. The TFDS data directory.
    """

    name = "ner"

    def __init__(self, data_dir: str | os.PathLike | None = None, *, train_file: str | None = None,
                 dev_file: str | None = None, test_file: str | None = None, scheme: str = "bio", crf: bool = False,
                 crf_constraints: bool = True, tag_column: int = -1, tfds_name: str | None = None,
                 tfds_data_dir: str | None = None):
        if scheme not in TRAINING_SCHEMES:
            raise ValueError(f"Unknown training scheme {scheme!r}; expected one of {', '.join(TRAINING_SCHEMES)}.")
        self.scheme, self.crf, self.crf_constraints = scheme, crf, crf_constraints
        if tfds_name:
            self.splits = {split: read_ner_tfds(tfds_name, split, tfds_data_dir) for split in ("train", "dev", "test")}
        else:
            given = {"train": train_file, "dev": dev_file, "test": test_file}
            paths = {split: given[split] or (find_split_file(data_dir, split) if data_dir else None) for split in given}
            for split in ("train", "dev"):
                if paths[split] is None:
                    raise ValueError(f"No {split} file: give --{split}_file, or a --data_dir holding one of the usual "
                                     "names (train.txt/dev.txt/test.txt, eng.train/eng.testa/eng.testb, WNUT-17's).")
            self.splits = {split: read_conll(path, tag_column) for split, path in paths.items() if path is not None}
        self.train = self.splits["train"]
        self.label_names = label_names(self.train.entity_types(), scheme)
        for split in self.splits.values():
            split.check_entity_types(self.train.entity_types())

    def new_model(self, model_dir: str, sequence_length: int) -> ElectraTokenClassifier:
        return ElectraTokenClassifier.from_pretrained(
            model_dir, label_names=self.label_names, crf=self.crf, crf_constraints=self.crf_constraints,
            sequence_length=sequence_length)

    def train_data(self) -> NerSplit:
        return self.train

    def dev_data(self) -> dict[str, NerSplit]:
        # dev selects epochs and seeds; test, when present, is scored with the selected weights.
        return {name: self.splits[name] for name in ("dev", "test") if name in self.splits}

    def dataset(self, data: NerSplit, model: ElectraTokenClassifier, batch_size: int, shuffle: bool,
                seed: int = 0) -> tf.data.Dataset:
        ids = {name: i for i, name in enumerate(model.label_names)}
        labels = [[ids[tag] for tag in tags] for tags in data.tags_in(self.scheme)]
        windows = model.preprocessor.encode_words(data.words, labels)
        dataset = tf.data.Dataset.from_tensor_slices((windows.inputs, windows.labels))
        if shuffle:
            dataset = dataset.shuffle(len(windows), seed=seed)
        return prefetched(dataset.batch(batch_size))

    def predict_tags(self, model: ElectraTokenClassifier, data: NerSplit, batch_size: int) -> list[list[str]]:
        """Each sentence's predicted tags (the model's label names), decoded over the whole sentence."""
        windows = model.preprocessor.encode_words(data.words)
        windows_dataset = tf.data.Dataset.from_tensor_slices(windows.inputs).batch(batch_size)
        logits = model.predict(prefetched(windows_dataset), verbose=0)
        per_sentence = windows.words_of(logits)
        tags = []
        for start in range(0, len(per_sentence), batch_size):
            chunk = per_sentence[start:start + batch_size]
            longest = max(len(words) for words in chunk)
            padded = np.zeros((len(chunk), max(longest, 1), model.num_labels), np.float32)
            for row, words in enumerate(chunk):
                padded[row, :len(words)] = words
            mask = np.arange(padded.shape[1])[None] < np.array([len(words) for words in chunk])[:, None]
            decoded = model.decode(padded, mask).numpy()
            tags += [[model.label_names[i] for i in decoded[row, :len(words)]] for row, words in enumerate(chunk)]
        return tags

    def _scored_tags(self, model, data: NerSplit, batch_size: int) -> tuple[list[list[str]], list[list[str]]]:
        """Gold and predicted tags in the scheme the split is scored in (the file's; BIO for a BIOES file)."""
        scheme = "bio" if data.scheme == "bioes" else data.scheme
        predicted = [convert(tags, scheme) for tags in self.predict_tags(model, data, batch_size)]
        return data.tags_in(scheme), predicted

    def evaluate(self, model: ElectraTokenClassifier, data: NerSplit, batch_size: int) -> dict[str, float]:
        return entity_scores(*self._scored_tags(model, data, batch_size))

    def prepare_for_saving(self, model: ElectraTokenClassifier, dev_metrics: dict[str, float]) -> None:
        """Nothing to set: a tagger is saved as trained."""

    def write_predictions(self, model: ElectraTokenClassifier, output_dir: pathlib.Path, batch_size: int) -> list[str]:
        """`predictions/<split>.txt` for dev and test: word, gold tag, predicted tag (conlleval's input)."""
        written = []
        for name, data in self.dev_data().items():
            gold, predicted = self._scored_tags(model, data, batch_size)
            written.append(str(write_conll_predictions(output_dir / PREDICTIONS_DIR / f"{name}.txt", data.words,
                                                       gold, predicted)))
        return written

    def settings(self) -> dict:
        return {"scheme": self.scheme, "crf": self.crf, "crf_constraints": self.crf_constraints,
                "label_names": self.label_names,
                **{f"{name}_file": data.source for name, data in self.splits.items()},
                **{f"{name}_sentences": len(data) for name, data in self.splits.items()},
                **{f"{name}_empty_sentences_skipped": data.skipped_empty for name, data in self.splits.items()
                   if data.skipped_empty}}
