"""The graph's entity decoding agrees with the Python scorer's chunks (conlleval's rules)."""

import numpy as np
import pytest

from electra_tf.models.tagging import entity_chunks, label_tables
from electra_tf.tag_schemes import chunks, label_names


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_entity_chunks_equal_the_python_chunks_on_random_tags(scheme):
    names = label_names(["LOC", "PER", "creative-work"], scheme)
    prefix_codes, type_ids, types = label_tables(names)
    rng = np.random.default_rng(0)
    tags = rng.integers(0, len(names), size=(200, 9))
    lengths = rng.integers(0, 10, size=200)
    mask = np.arange(9)[None] < lengths[:, None]
    found = {key: value.numpy() for key, value in entity_chunks(tags, mask, prefix_codes, type_ids).items()}
    served = [(int(row), types[entity_type], int(start), int(end))
              for row, start, end, entity_type in zip(found["row"], found["start"], found["end"], found["type"])]
    expected = [(row, entity_type, start, end) for row in range(200)
                for entity_type, start, end in chunks([names[t] for t in tags[row, :lengths[row]]])]
    assert served == expected and len(expected) > 300
