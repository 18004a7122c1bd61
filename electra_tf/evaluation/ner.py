"""Entity-level NER scores with conlleval.pl's exact semantics, and prediction files it reads unchanged.

`entity_scores` counts chunks as conlleval (2004) does (`electra_tf.tag_schemes.chunks`): a predicted entity
is correct only when its type, first word and last word all match a gold one. Precision, recall and F1 are
percentages, micro-averaged over types (and given per type), 0 on a zero denominator; token accuracy compares
the tags themselves and counts `O` tokens too. Give both sides in the same scheme (IOB1 or BIO) for a
meaningful accuracy; chunks are the same in either.

Example:
```python
scores = entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "I-ORG", "O"]])
assert (scores["gold_entities"], scores["predicted_entities"], scores["correct_entities"]) == (1, 2, 0)
assert scores["f1"] == 0.0 and round(scores["accuracy"], 2) == 66.67
```
"""

from __future__ import annotations

import collections
import os
import pathlib
from typing import Sequence

from electra_tf.tag_schemes import chunks, split_tag


def _precision_recall_f1(correct: int, gold: int, predicted: int) -> tuple[float, float, float]:
    precision = 100.0 * correct / predicted if predicted else 0.0
    recall = 100.0 * correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """conlleval's scores of predicted tag sequences against gold ones (one list of tags per sentence).

    Returns:
        A flat dict: `precision`, `recall`, `f1` (overall, micro), `accuracy` (tokens), `score` (= `f1`, what
        selects epochs and seeds), the entity counts `gold_entities`, `predicted_entities`,
        `correct_entities`, and `precision_<type>`, `recall_<type>`, `f1_<type>` for every type seen.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted ones.")
    counts = {"gold": collections.Counter(), "predicted": collections.Counter(), "correct": collections.Counter()}
    correct_tags = tokens = 0
    for sentence, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"Sentence {sentence}: {len(gold_tags)} gold tags but {len(predicted_tags)} predicted.")
        gold_chunks, predicted_chunks = set(chunks(gold_tags)), set(chunks(predicted_tags))
        counts["gold"].update(entity_type for entity_type, _, _ in gold_chunks)
        counts["predicted"].update(entity_type for entity_type, _, _ in predicted_chunks)
        counts["correct"].update(entity_type for entity_type, _, _ in gold_chunks & predicted_chunks)
        correct_tags += sum(split_tag(g) == split_tag(p) for g, p in zip(gold_tags, predicted_tags))
        tokens += len(gold_tags)
    totals = {name: sum(counter.values()) for name, counter in counts.items()}
    precision, recall, f1 = _precision_recall_f1(totals["correct"], totals["gold"], totals["predicted"])
    scores = {"precision": precision, "recall": recall, "f1": f1,
              "accuracy": 100.0 * correct_tags / tokens if tokens else 0.0, "score": f1,
              "gold_entities": totals["gold"], "predicted_entities": totals["predicted"],
              "correct_entities": totals["correct"]}
    for entity_type in sorted(set(counts["gold"]) | set(counts["predicted"])):
        values = _precision_recall_f1(counts["correct"][entity_type], counts["gold"][entity_type],
                                      counts["predicted"][entity_type])
        scores.update(zip((f"precision_{entity_type}", f"recall_{entity_type}", f"f1_{entity_type}"), values))
    return scores


def write_conll_predictions(path: str | os.PathLike, words: Sequence[Sequence[str]], gold: Sequence[Sequence[str]],
                            predicted: Sequence[Sequence[str]]) -> pathlib.Path:
    """Writes `word gold predicted` per line, a blank line between sentences: the input conlleval.pl scores.
    Whitespace inside a word becomes `_` (conlleval splits lines on spaces; it does not score the word).

    Written to a temporary name and renamed, so a failed write leaves no partial file.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for sentence_words, gold_tags, predicted_tags in zip(words, gold, predicted, strict=True):
        for word, gold_tag, predicted_tag in zip(sentence_words, gold_tags, predicted_tags, strict=True):
            lines.append(f"{_conlleval_word(word)} {gold_tag} {predicted_tag}\n")
        lines.append("\n")
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(lines), encoding="utf-8")
    partial.replace(path)
    return path


def _conlleval_word(word: str) -> str:
    return "".join("_" if character.isspace() else character for character in word) or "_"
