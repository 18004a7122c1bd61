"""ChnSentiCorp hotel reviews (Chinese sentiment): a `label,review` CSV, split into train and dev here.

The file (`ChnSentiCorp_htl_all.csv`, 7,766 reviews, 1 positive / 0 negative) has no split; a seeded shuffle
of each label's reviews puts `dev_fraction` of them in dev, so both splits keep the label balance
(68.5% positive). Empty reviews are skipped; any other malformed row is an error naming its line.

Example:
```python
import pathlib, tempfile
path = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
path.write_text("label,review\\n1,很好\\n0,太差\\n1,不错\\n0,\\"很差, 不推荐\\"\\n1,干净\\n", encoding="utf-8")
train, dev = read_chnsenticorp(path, dev_fraction=0.4)
assert len(train) + len(dev) == 5 and dev.labels.tolist().count(0) == 1
```
"""

from __future__ import annotations

import csv
import os
import random

import numpy as np

from electra_tf.data.glue import GlueSplit

LABEL_NAMES = ("negative", "positive")  # the file's labels 0 and 1


def read_chnsenticorp(path: str | os.PathLike, dev_fraction: float = 0.2, seed: int = 0
                      ) -> tuple[GlueSplit, GlueSplit]:
    """(train, dev) reviews with labels 0 (negative) / 1 (positive), `dev_fraction` of each label in dev."""
    by_label: dict[int, list[str]] = {0: [], 1: []}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["label", "review"]:
            raise ValueError(f"{path}: expected the header 'label,review', got {header}.")
        for row in reader:
            if len(row) != 2 or row[0] not in ("0", "1"):
                raise ValueError(f"{path}, line {reader.line_num}: expected 'label,review' with label 0 or 1, "
                                 f"got {row[:2]}.")
            if row[1].strip():
                by_label[int(row[0])].append(row[1].strip())
    rng = random.Random(seed)
    train: list[tuple[str, int]] = []
    dev: list[tuple[str, int]] = []
    for label, reviews in by_label.items():
        rng.shuffle(reviews)
        cut = len(reviews) - round(dev_fraction * len(reviews))
        train += [(review, label) for review in reviews[:cut]]
        dev += [(review, label) for review in reviews[cut:]]
    rng.shuffle(train)  # labels mixed: any prefix is a fair sample
    return tuple(GlueSplit(([text for text, _ in split],), np.asarray([label for _, label in split], np.int32))
                 for split in (train, dev))
