"""Extractive question answering (SQuAD 1.1 / 2.0, XQuAD) as a fine-tuning task: SQuAD JSON (or TFDS), the
windowed features of google-research/electra's `qa_tasks.py`, `ElectraQuestionAnswerer`, the official scripts'
EM/F1, and the prediction files they read unchanged.

Training labels each window with the pieces covering the gold answer's characters (the answer "tightened" to
whole pieces, as `_improve_answer_span` does), or [CLS] when the answer is not in the window or the question has
none. Evaluation decodes with the model's own `answer` (the graph a SavedModel serves). For SQuAD 2.0 the
no-answer threshold that maximises dev F1 is kept with the model, so that the served model abstains by itself.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np
import tensorflow as tf

from electra_tf.data.squad import QaSplit, read_squad, read_squad_tfds
from electra_tf.data.pipeline import prefetched
from electra_tf.evaluation.squad import normalize_answer, squad_scores, write_squad_predictions
from electra_tf.inputs import INPUT_KEYS
from electra_tf.models.question_answerer import ElectraQuestionAnswerer
from electra_tf.text.question_answering import (DOC_STRIDE, MAX_QUESTION_LENGTH, QuestionAnsweringPreprocessor,
                                                answer_piece_span)
from electra_tf.text.tokenizer import load_tokenizer

PREDICTIONS_DIR = "predictions"
_ENCODE_BATCH = 256  # questions tokenized and windowed at a time


@dataclasses.dataclass(frozen=True)
class QaFeatures:
    """The windows of a split: model inputs [N, L]; for training, the labelled span positions and
    `is_impossible` [N]; and how many answerable questions have no span of whole pieces that reads back as
    their answer (`unrecoverable`: an answer that starts or ends inside a piece, as "1895" in "1895s"); and how
    many questions were longer than `max_question_length` pieces (`questions_cut`: cut to it, as the original
    does, so that every window keeps room for context)."""

    inputs: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    unrecoverable: int
    questions_cut: int


def qa_features(preprocessor: QuestionAnsweringPreprocessor, data: QaSplit) -> QaFeatures:
    """Windows and span labels for every question of `data` (each labelled with its first answer)."""
    inputs = {key: [] for key in INPUT_KEYS}
    labels = {"start_positions": [], "end_positions": [], "is_impossible": []}
    unrecoverable = questions_cut = 0
    for first in range(0, len(data), _ENCODE_BATCH):
        examples = data.examples[first:first + _ENCODE_BATCH]
        windows = preprocessor.encode([example.question for example in examples],
                                      [example.context for example in examples])
        questions_cut += int(np.sum(windows["question_pieces"].numpy() > preprocessor.max_question_length))
        spans = []
        for example, starts, ends in zip(examples, windows["piece_starts"].numpy(), windows["piece_ends"].numpy()):
            span = None if example.is_impossible else answer_piece_span(
                example.context, example.answer_starts[0], example.answers[0], starts, ends)
            if not example.is_impossible and (span is None or not _reads_back(example, span, starts, ends)):
                unrecoverable += 1
            spans.append(span)
        window_example = windows["window_example"].numpy()
        window_start, context_offset = windows["window_start"].numpy(), windows["context_offset"].numpy()
        context_length = windows["segment_ids"].numpy().sum(axis=1) - 1  # context pieces (less the final [SEP])
        for window, example in enumerate(window_example):
            span = spans[example]
            inside = span is not None and window_start[window] <= span[0] and (
                span[1] < window_start[window] + context_length[window])
            shift = context_offset[window] - window_start[window]
            labels["start_positions"].append(span[0] + shift if inside else 0)
            labels["end_positions"].append(span[1] + shift if inside else 0)
            labels["is_impossible"].append(int(examples[example].is_impossible))
        for key in INPUT_KEYS:
            inputs[key].append(windows[key].numpy())
    return QaFeatures({key: np.concatenate(value) for key, value in inputs.items()},
                      {key: np.array(value, np.int32) for key, value in labels.items()}, unrecoverable,
                      questions_cut)


def _reads_back(example, span: tuple[int, int], starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether the context text under a piece span normalises to the example's first answer."""
    text = example.context.encode("utf-8")[starts[span[0]]:ends[span[1]]].decode("utf-8", errors="replace")
    return normalize_answer(text) == normalize_answer(example.answers[0])


class SquadFinetuning:
    """SQuAD for `run_finetuning`: train on `train_file`, select on and predict `predict_file`.

    Args:
        train_file, predict_file: paths. SQuAD JSON files (`.json` or `.json.gz`).
        version: `1.1`, `2.0` or None (the files'). 2.0 learns to abstain and searches the no-answer threshold.
        max_question_length: int. Question pieces kept. Defaults to `64`.
        doc_stride: int. Context pieces between window starts. Defaults to `128`.
        tfds_name: str or None. Read TFDS `squad/v1.1` or `squad/v2.0` (train, validation) instead of files.
        tfds_data_dir: str or None. The TFDS data directory.
    """

    name = "squad"

    def __init__(self, train_file: str | os.PathLike | None = None, predict_file: str | os.PathLike | None = None,
                 *, version: str | None = None, max_question_length: int = MAX_QUESTION_LENGTH,
                 doc_stride: int = DOC_STRIDE, tfds_name: str | None = None, tfds_data_dir: str | None = None):
        if tfds_name:
            self.train = read_squad_tfds(tfds_name, "train", tfds_data_dir, training=True)
            self.dev = read_squad_tfds(tfds_name, "validation", tfds_data_dir)
        else:
            if not train_file or not predict_file:
                raise ValueError("Give --train_file and --predict_file (SQuAD JSON), or --tfds_name.")
            self.train = read_squad(train_file, version, training=True)
            self.dev = read_squad(predict_file, version)
        self.version = version or self.dev.version
        self.max_question_length, self.doc_stride = max_question_length, doc_stride
        self._features: dict[tuple, QaFeatures] = {}

    def new_model(self, model_dir: str, sequence_length: int) -> ElectraQuestionAnswerer:
        preprocessor = QuestionAnsweringPreprocessor(load_tokenizer(model_dir), sequence_length,
                                                     self.max_question_length, self.doc_stride)
        return ElectraQuestionAnswerer.from_pretrained(model_dir, preprocessor=preprocessor)

    def train_data(self) -> QaSplit:
        return self.train

    def dev_data(self) -> dict[str, QaSplit]:
        return {"dev": self.dev}

    def features(self, data: QaSplit, preprocessor: QuestionAnsweringPreprocessor) -> QaFeatures:
        """`qa_features`, computed once per split and preprocessor settings (every seed reuses them)."""
        key = (id(data), *preprocessor.settings().values())
        if key not in self._features:
            self._features[key] = qa_features(preprocessor, data)
        return self._features[key]

    def dataset(self, data: QaSplit, model: ElectraQuestionAnswerer, batch_size: int, shuffle: bool,
                seed: int = 0) -> tf.data.Dataset:
        features = self.features(data, model.preprocessor)
        # The original head scores ends given the gold start (teacher forcing), so the start is also an input.
        inputs = {**features.inputs, "start_positions": features.labels["start_positions"]}
        dataset = tf.data.Dataset.from_tensor_slices((inputs, features.labels))
        if shuffle:
            dataset = dataset.shuffle(len(features.labels["is_impossible"]), seed=seed)
        return prefetched(dataset.batch(batch_size))

    def predict(self, model: ElectraQuestionAnswerer, data: QaSplit,
                batch_size: int) -> tuple[dict[str, str], dict[str, float]]:
        """The best non-empty answer and the null odds of every question, as the model decodes them."""
        answer = tf.function(model.answer, input_signature=[tf.TensorSpec([None], tf.string)] * 2)
        predictions, null_odds = {}, {}
        for first in range(0, len(data), batch_size):
            examples = data.examples[first:first + batch_size]
            answers = answer(tf.constant([example.question for example in examples]),
                             tf.constant([example.context for example in examples]))
            for example, text, odds in zip(examples, answers["best_span"].numpy(), answers["null_odds"].numpy()):
                predictions[example.qid] = text.decode("utf-8")
                null_odds[example.qid] = float(odds)
        return predictions, null_odds

    def evaluate(self, model: ElectraQuestionAnswerer, data: QaSplit, batch_size: int) -> dict[str, float]:
        """The official script's scores; for 2.0 with the null odds, and `score` = F1 at the best threshold."""
        predictions, null_odds = self.predict(model, data, batch_size)
        if self.version == "1.1":
            return squad_scores(data.gold(), predictions, "1.1")
        scores = squad_scores(data.gold(), predictions, "2.0", null_odds)
        return {**scores, "score": scores["best_f1"]}

    def prepare_for_saving(self, model: ElectraQuestionAnswerer, dev_metrics: dict[str, float]) -> None:
        """SQuAD 2.0: the model abstains above the threshold that maximised F1 on dev."""
        if self.version == "2.0":
            model.null_threshold = float(dev_metrics["best_f1_thresh"])

    def write_predictions(self, model: ElectraQuestionAnswerer, output_dir: pathlib.Path,
                          batch_size: int) -> list[str]:
        """`predictions/predictions.json` (and for 2.0 `null_odds.json`) for the predict file."""
        predictions, null_odds = self.predict(model, self.dev, batch_size)
        paths = write_squad_predictions(output_dir / PREDICTIONS_DIR, predictions,
                                        null_odds if self.version == "2.0" else None)
        return [str(path) for path in paths]

    def settings(self) -> dict:
        features = next(iter(self._features.values()), None)
        return {"version": self.version, "max_question_length": self.max_question_length,
                "doc_stride": self.doc_stride, "train_file": self.train.source, "predict_file": self.dev.source,
                "train_questions": len(self.train), "dev_questions": len(self.dev),
                "skipped": {"train": self.train.skipped, "dev": self.dev.skipped},
                **({"train_windows": len(features.labels["is_impossible"]),
                    "train_unrecoverable_answers": features.unrecoverable,
                    "train_questions_cut": features.questions_cut} if features else {})}
