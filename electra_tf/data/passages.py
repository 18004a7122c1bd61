"""A small labelled set that may be redistributed: which source a passage of the bundled corpus comes from.

The bundled corpus (`electra_tf/assets/corpus_sample.txt`, public domain, see `assets/ATTRIBUTION.md`) holds
three books and the US presidential inaugural addresses, one document each. A passage is a few consecutive
sentences; its label is its source: `alice` (Carroll), `persuasion` (Austen), `father_brown` (Chesterton) or
`inaugural`. Each source gives the same number of passages, so the majority class is a quarter. The last
`dev_fraction` of each source's passages (of each book, of the addresses in date order) is the dev split, so
dev passages are not neighbours of training ones.

Example:
```python
train, dev = read_passage_sources(max_per_source=40)
assert len(train) == 4 * 32 and len(dev) == 4 * 8
assert sorted(set(train.labels.tolist())) == [0, 1, 2, 3] and PASSAGE_SOURCES[0] == "alice"
```
"""

from __future__ import annotations

import os

import numpy as np

from electra_tf.data.glue import GlueSplit
from electra_tf.text import SAMPLE_CORPUS_FILE

# The corpus's documents in order: three books, then one document per address.
PASSAGE_SOURCES = ("alice", "persuasion", "father_brown", "inaugural")


def read_passage_sources(corpus_file: str | os.PathLike = SAMPLE_CORPUS_FILE, sentences_per_passage: int = 2,
                         max_per_source: int = 600, dev_fraction: float = 0.2) -> tuple[GlueSplit, GlueSplit]:
    """(train, dev) passages of `sentences_per_passage` sentences, labelled with their source's index in
    `PASSAGE_SOURCES`; at most `max_per_source` passages a source, evenly spread over it."""
    documents = [block.split("\n") for block in open(corpus_file, encoding="utf-8").read().split("\n\n")]
    if len(documents) < len(PASSAGE_SOURCES):
        raise ValueError(f"{corpus_file} has {len(documents)} documents; the passage task needs the three books "
                         "and the addresses of the bundled corpus.")
    sources = [*documents[:3], [line for document in documents[3:] for line in document]]
    train, dev = ([], []), ([], [])
    for label, lines in enumerate(sources):
        lines = [line for line in lines if line.strip()]
        passages = [" ".join(lines[i:i + sentences_per_passage])
                    for i in range(0, len(lines) - sentences_per_passage + 1, sentences_per_passage)]
        chosen = [passages[i] for i in np.linspace(0, len(passages) - 1, min(max_per_source, len(passages))).astype(int)]
        cut = len(chosen) - round(dev_fraction * len(chosen))
        for (texts, labels), part in ((train, chosen[:cut]), (dev, chosen[cut:])):
            texts += part
            labels += [label] * len(part)
    return tuple(GlueSplit((texts,), np.asarray(labels, np.int32)) for texts, labels in (train, dev))
