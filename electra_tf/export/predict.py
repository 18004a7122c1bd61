"""Predictions from an exported SavedModel: what `electra-tf predict` runs (no Keras model involved)."""

from __future__ import annotations

import os

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

from electra_tf.export.serving import newest_version

PAIR_SEPARATOR = " ||| "


def load_serving_model(model: str | os.PathLike):
    """Loads the newest version under a model base path (or a version directory)."""
    return tf.saved_model.load(str(newest_version(model)))


def read_texts(texts: list[str], input_file: str | None = None) -> list[tuple[str, ...]]:
    """Texts from the command line (`a ||| b` for a pair) and from a file (lines, or two tab-separated columns)."""
    rows = [tuple(text.split(PAIR_SEPARATOR)) for text in texts]
    if input_file:
        with open(input_file, encoding="utf-8") as f:
            rows += [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]
    if len({len(row) for row in rows}) > 1:
        raise ValueError("Mix of single texts and text pairs: give one kind per call.")
    return rows


def predict_texts(saved_model, rows: list[tuple[str, ...]]) -> list[dict]:
    """The `serving_default` answer per row: `label` and `probabilities`, `score` for regression, or for a
    tagger `entities` (each `type`, `text`, character `start`/`end`, `score`)."""
    signature = saved_model.signatures["serving_default"]
    names = sorted(signature.structured_input_signature[1])  # text (, text_b)
    if len(names) != len(rows[0]):
        raise ValueError(f"The model takes {names}, got rows of {len(rows[0])} text(s).")
    outputs = signature(**{name: tf.constant([row[i] for row in rows]) for i, name in enumerate(names)})
    if "entity_types" in outputs:
        return [{"entities": entities} for entities in _entities(outputs)]
    if "score" in outputs:
        return [{"score": float(score)} for score in outputs["score"].numpy()]
    return [{"label": label.decode("utf-8"), "probabilities": [round(float(p), 6) for p in probabilities]}
            for label, probabilities in zip(outputs["labels"].numpy(), outputs["probabilities"].numpy())]


def predict_answers(saved_model, questions: list[str], contexts: list[str]) -> list[dict]:
    """A reader's `serving_default` answer per question: `answer`, character `start`/`end` in its context,
    `score`, and for a model that abstains `null_score` and `answerable`."""
    if len(questions) != len(contexts):
        raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts: give one context per question.")
    outputs = saved_model.signatures["serving_default"](question=tf.constant(questions), context=tf.constant(contexts))
    columns = {name: value.numpy().tolist() for name, value in outputs.items()}
    return [{"answer": columns["answer"][row].decode("utf-8"), "start": columns["start"][row], "end": columns["end"][row],
             "score": round(columns["score"][row], 6),
             **({"null_score": round(columns["null_score"][row], 6), "answerable": columns["answerable"][row]}
                if "null_score" in columns else {})}
            for row in range(len(questions))]


def _entities(outputs: dict) -> list[list[dict]]:
    """A tagger's padded entity outputs as one list of entities per text."""
    columns = {name: outputs[f"entity_{name}s"].numpy() for name in ("type", "text", "start", "end", "score")}
    return [[{"type": columns["type"][row, i].decode("utf-8"), "text": columns["text"][row, i].decode("utf-8"),
              "start": int(columns["start"][row, i]), "end": int(columns["end"][row, i]),
              "score": round(float(columns["score"][row, i]), 6)} for i in range(count)]
            for row, count in enumerate(outputs["num_entities"].numpy())]
