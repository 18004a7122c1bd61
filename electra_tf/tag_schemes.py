"""Entity tag schemes (IOB1, BIO = IOB2, BIOES) and their chunks, with conlleval's semantics.

A tag is `O` or `PREFIX-TYPE`, split at its first `-` as conlleval does (so types may contain `-`:
`B-creative-work`). Chunks are read exactly as conlleval.pl (2004) reads them: a chunk starts on `B-`, on `I-`
after `O` or after another type, and on any type change; it ends before `B-`, before `O` and at a type change.
BIOES is read by first mapping `S-` to `B-` and `E-` to `I-` (conlleval knows neither), which is lossless for
well-formed BIOES. Every scheme is written from chunks, so converting is: read chunks, write them in the other
scheme; for well-formed input this round-trips exactly.

Plain Python: the data reader, the scorer and the CRF's transition constraints share it.

Example:
```python
assert chunks(["O", "I-PER", "I-PER", "B-PER"]) == [("PER", 1, 3), ("PER", 3, 4)]
assert convert(["O", "I-PER", "I-PER", "B-PER"], "bioes") == ["O", "B-PER", "E-PER", "S-PER"]
assert convert(["B-LOC", "I-LOC", "O"], "iob1") == ["I-LOC", "I-LOC", "O"]
```
"""

from __future__ import annotations

from typing import Sequence

OUTSIDE = "O"
SCHEMES = ("iob1", "bio", "bioes")  # what files may use; models train on "bio" or "bioes"
TRAINING_SCHEMES = ("bio", "bioes")
PREFIXES = {"bio": ("B", "I"), "bioes": ("B", "I", "E", "S")}

Chunk = tuple[str, int, int]  # (type, first word, one past the last word)


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type) as conlleval splits a tag: at the first `-`; `O` -> ("O", "")."""
    prefix, _, entity_type = tag.partition("-")
    return prefix, entity_type


def _as_iob2_prefix(prefix: str) -> str:
    return {"S": "B", "E": "I"}.get(prefix, prefix)


def chunk_starts(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """Whether a chunk starts at `current` after `previous` (each `(prefix, type)` in IOB; conlleval's
    `startOfChunk` for B/I/O tags)."""
    (previous_prefix, previous_type), (prefix, entity_type) = previous, current
    if prefix == "B":
        return True
    if prefix == "I" and previous_prefix == OUTSIDE:
        return True
    return prefix != OUTSIDE and previous_type != entity_type


def chunk_ends(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """Whether the chunk containing `previous` ends before `current` (conlleval's `endOfChunk` for B/I/O)."""
    (previous_prefix, previous_type), (prefix, entity_type) = previous, current
    if previous_prefix == OUTSIDE:
        return False
    return prefix in ("B", OUTSIDE) or previous_type != entity_type


def chunks(tags: Sequence[str]) -> list[Chunk]:
    """The chunks of one sentence's tags (any scheme), in order."""
    found: list[Chunk] = []
    previous = (OUTSIDE, "")
    start = None
    for position, tag in enumerate([*tags, OUTSIDE]):  # the sentence boundary acts as an O
        prefix, entity_type = split_tag(tag)
        current = (_as_iob2_prefix(prefix), entity_type)
        if start is not None and chunk_ends(previous, current):
            found.append((previous[1], start, position))
            start = None
        if chunk_starts(previous, current):
            start = position
        previous = current
    return found


def from_chunks(found: Sequence[Chunk], length: int, scheme: str) -> list[str]:
    """The tags of a sentence of `length` words holding the chunks `found` (in order), in `scheme`."""
    _check_scheme(scheme, SCHEMES)
    tags = [OUTSIDE] * length
    previous_end, previous_type = None, None
    for entity_type, start, end in found:
        for position in range(start, end):
            tags[position] = f"I-{entity_type}"
        if scheme == "bio" or (scheme == "iob1" and previous_end == start and previous_type == entity_type):
            tags[start] = f"B-{entity_type}"
        elif scheme == "bioes":
            if end - start == 1:
                tags[start] = f"S-{entity_type}"
            else:
                tags[start], tags[end - 1] = f"B-{entity_type}", f"E-{entity_type}"
        previous_end, previous_type = end, entity_type
    return tags


def convert(tags: Sequence[str], scheme: str) -> list[str]:
    """`tags` (any scheme) written in `scheme`. Ill-formed input (`I-X` after `O` in BIO) is read as conlleval
    reads it, so its chunks, and every score, stay the same."""
    return from_chunks(chunks(tags), len(tags), scheme)


def detect_scheme(sentences: Sequence[Sequence[str]]) -> str:
    """The scheme of a corpus's tags: `bioes` if it uses `S-`/`E-`; `bio` if some `B-` opens a chunk after
    `O`, another type or the sentence start (IOB1 uses `B-` only between two chunks of one type); `iob1` if
    an `I-` opens a chunk and no `B-` does; else `bio`."""
    opening_b = opening_i = False
    for tags in sentences:
        previous = (OUTSIDE, "")
        for tag in tags:
            prefix, entity_type = split_tag(tag)
            if prefix in ("S", "E"):
                return "bioes"
            if prefix == "B" and not (previous[0] in ("B", "I") and previous[1] == entity_type):
                opening_b = True
            if prefix == "I" and chunk_starts(previous, (prefix, entity_type)):
                opening_i = True
            previous = (prefix, entity_type)
    return "iob1" if opening_i and not opening_b else "bio"


def label_names(entity_types: Sequence[str], scheme: str) -> list[str]:
    """The tag set of a training scheme: `O`, then each type's tags (types sorted)."""
    _check_scheme(scheme, TRAINING_SCHEMES)
    return [OUTSIDE, *(f"{prefix}-{entity_type}" for entity_type in sorted(set(entity_types))
                       for prefix in PREFIXES[scheme])]


def scheme_of_labels(names: Sequence[str]) -> str:
    """`bioes` if the label set has `S-`/`E-` tags, else `bio`."""
    return "bioes" if any(split_tag(name)[0] in ("S", "E") for name in names) else "bio"


def allowed_transitions(names: Sequence[str]) -> tuple[list[list[bool]], list[bool], list[bool]]:
    """Which tag may follow which in well-formed sequences over the label set `names` (BIO or BIOES), which
    may start a sentence and which may end one: `(allowed[i][j]` for tag j after tag i, `start[j]`, `end[i])`.

    BIO: `I-X` only after `B-X` or `I-X`. BIOES: inside a chunk of type X (after `B-X`/`I-X`) only `I-X` or
    `E-X`; outside one, only `O`, `B-`, `S-`; a sentence ends outside a chunk.
    """
    split = [split_tag(name) for name in names]
    bioes = scheme_of_labels(names) == "bioes"

    def may_follow(previous: tuple[str, str], current: tuple[str, str]) -> bool:
        inside = previous[0] in ("B", "I")
        if bioes:
            if inside:
                return current[0] in ("I", "E") and current[1] == previous[1]
            return current[0] in (OUTSIDE, "B", "S")
        return current[0] != "I" or (inside and current[1] == previous[1])

    allowed = [[may_follow(previous, current) for current in split] for previous in split]
    start = [may_follow((OUTSIDE, ""), current) for current in split]
    end = [prefix in (OUTSIDE, "E", "S") if bioes else True for prefix, _ in split]
    return allowed, start, end


def _check_scheme(scheme: str, valid: Sequence[str]) -> None:
    if scheme not in valid:
        raise ValueError(f"Unknown tag scheme {scheme!r}; expected one of {', '.join(valid)}.")
