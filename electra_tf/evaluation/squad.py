"""SQuAD scores with the official scripts' exact semantics (rajpurkar/SQuAD-explorer `evaluate-v1.1.py` and
`evaluate-v2.0.py`), and the prediction files those scripts read unchanged.

Both scripts normalise answers the same way (lower-case, drop ASCII punctuation, drop the words a/an/the,
collapse whitespace); EM compares normalised strings, F1 counts shared normalised tokens; a question scores its
best gold answer. They differ at the edges, and each is followed exactly:

- v1.1: a question without a prediction scores 0 and stays in the total; an empty prediction scores F1 0.
- v2.0: gold answers that normalise to empty are dropped and an unanswerable question's gold is `""`; F1 is 1
  when both sides are empty and 0 when only one is; questions without a prediction are left out of the total.
  With null odds (`null_odds.json`), a question whose odds exceed `null_odds_threshold` (1.0 by default, as the
  script) counts as answered "no answer", and `best_exact` / `best_f1` with their thresholds are searched.

Example:
```python
gold = {"q1": ["the Eiffel Tower"], "q2": []}
scores = squad_scores(gold, {"q1": "Eiffel tower!", "q2": ""}, version="2.0")
assert scores["exact"] == 100.0 and scores["HasAns_total"] == 1 and scores["NoAns_exact"] == 100.0
assert round(squad_scores({"q1": ["a cat sat"]}, {"q1": "cat"}, version="1.1")["f1"], 4) == 66.6667
```
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import re
import string
from typing import Mapping

VERSIONS = ("1.1", "2.0")
PREDICTIONS_FILE = "predictions.json"
NULL_ODDS_FILE = "null_odds.json"
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official normalisation: lower-case, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(gold: str, predicted: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(predicted))


def token_f1(gold: str, predicted: str, version: str = "2.0") -> float:
    """Bag-of-tokens F1 of two answers; with v2.0, two empty answers agree (F1 1)."""
    gold_tokens, predicted_tokens = normalize_answer(gold).split(), normalize_answer(predicted).split()
    if version == "2.0" and not (gold_tokens and predicted_tokens):
        return float(gold_tokens == predicted_tokens)
    shared = sum((collections.Counter(gold_tokens) & collections.Counter(predicted_tokens)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted_tokens), shared / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise ValueError(f"Unknown SQuAD version {version!r}; expected one of {', '.join(VERSIONS)}.")


def raw_scores(gold: Mapping[str, list[str]], predictions: Mapping[str, str],
               version: str) -> tuple[dict[str, float], dict[str, float]]:
    """Each scored question's EM and F1 (0 or 1, and in [0, 1]) against its best gold answer."""
    _check_version(version)
    exact, f1 = {}, {}
    for qid, answers in gold.items():
        if qid not in predictions:
            if version == "1.1":  # v1.1 counts a missing prediction as wrong; v2.0 leaves it out
                exact[qid] = f1[qid] = 0.0
            continue
        if version == "2.0":
            answers = [answer for answer in answers if normalize_answer(answer)] or [""]
        exact[qid] = max(exact_match(answer, predictions[qid]) for answer in answers)
        f1[qid] = max(token_f1(answer, predictions[qid], version) for answer in answers)
    return exact, f1


def best_threshold(predictions: Mapping[str, str], scores: Mapping[str, float], null_odds: Mapping[str, float],
                   has_answer: Mapping[str, bool]) -> tuple[float, float]:
    """`find_best_thresh` of the v2.0 script: the null-odds threshold that maximises the total score when every
    question above it answers "no answer"; returns (best score in percent, threshold)."""
    score = best_score = sum(not answerable for answerable in has_answer.values())
    threshold = 0.0
    for qid in sorted(null_odds, key=lambda qid: null_odds[qid]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            score += scores[qid]
        elif predictions[qid]:
            score -= 1
        if score > best_score:
            best_score, threshold = score, null_odds[qid]
    return 100.0 * best_score / len(scores), threshold


def squad_scores(gold: Mapping[str, list[str]], predictions: Mapping[str, str], version: str = "1.1",
                 null_odds: Mapping[str, float] | None = None, null_odds_threshold: float = 1.0) -> dict[str, float]:
    """The official script's output for `predictions` ({qid: text}) against `gold` ({qid: answer texts}, empty
    for an unanswerable question), plus `score` (F1, what selects epochs and seeds).

    v1.1: `exact_match`, `f1` (percent). v2.0: `exact`, `f1`, `total`, the `HasAns_` and `NoAns_` breakdown
    (when there are such questions), and with `null_odds` the `best_exact`, `best_exact_thresh`, `best_f1`,
    `best_f1_thresh` of the threshold search.
    """
    exact, f1 = raw_scores(gold, predictions, version)
    if not exact:
        raise ValueError("No question has a prediction: nothing to score.")
    if version == "1.1":
        total = len(exact)
        result = {"exact_match": 100.0 * sum(exact.values()) / total, "f1": 100.0 * sum(f1.values()) / total}
        return {**result, "score": result["f1"]}
    has_answer = {qid: bool(answers) for qid, answers in gold.items()}
    odds = null_odds if null_odds is not None else {qid: 0.0 for qid in predictions}
    thresholded = [{qid: float(not has_answer[qid]) if odds[qid] > null_odds_threshold else value
                    for qid, value in raw.items()} for raw in (exact, f1)]
    result = _summary(*thresholded, list(exact))
    for prefix, wanted in (("HasAns_", True), ("NoAns_", False)):
        qids = [qid for qid in exact if has_answer[qid] == wanted]
        if qids:
            result.update({prefix + key: value for key, value in _summary(*thresholded, qids).items()})
    if null_odds is not None:
        for name, raw in (("exact", exact), ("f1", f1)):
            result[f"best_{name}"], result[f"best_{name}_thresh"] = best_threshold(predictions, raw, null_odds,
                                                                                   has_answer)
    return {**result, "score": result["f1"]}


def _summary(exact: Mapping[str, float], f1: Mapping[str, float], qids: list[str]) -> dict[str, float]:
    return {"exact": 100.0 * sum(exact[qid] for qid in qids) / len(qids),
            "f1": 100.0 * sum(f1[qid] for qid in qids) / len(qids), "total": len(qids)}


def write_squad_predictions(output_dir: str | os.PathLike, predictions: Mapping[str, str],
                            null_odds: Mapping[str, float] | None = None) -> list[pathlib.Path]:
    """`predictions.json` ({qid: text}) and, for v2.0, `null_odds.json` ({qid: odds}) in `output_dir`, each
    written whole or not at all; returns their paths."""
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    files = {PREDICTIONS_FILE: dict(predictions)}
    if null_odds is not None:
        files[NULL_ODDS_FILE] = {qid: float(odds) for qid, odds in null_odds.items()}
    written = []
    for name, content in files.items():
        path = output_dir / name
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        partial.replace(path)
        written.append(path)
    return written
