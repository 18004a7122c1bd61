"""BERT's reference tokenizer, written out from google-research/bert `tokenization.py` (`BasicTokenizer`,
`WordpieceTokenizer`, `FullTokenizer`) in plain Python, to test `WordPieceTokenizer` against.

`strip_accents=None` follows `do_lower_case`, as the original; True/False is Hugging Face's `BertTokenizer`
option. (Hugging Face also applies NFC first; the original does not, and neither does this.)
"""

from __future__ import annotations

import unicodedata

CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
              (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf")


def is_punctuation(char: str) -> bool:
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def is_chinese_char(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in CJK_RANGES)


def strip_accents(text: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFD", text) if unicodedata.category(char) != "Mn")


def split_on_punctuation(text: str) -> list[str]:
    output: list[list[str]] = []
    start_new_word = True
    for char in text:
        if is_punctuation(char):
            output.append([char])
            start_new_word = True
        else:
            if start_new_word:
                output.append([])
            start_new_word = False
            output[-1].append(char)
    return ["".join(chars) for chars in output]


def basic_tokenize(text: str, do_lower_case: bool, strip: bool | None = None) -> list[str]:
    strip = do_lower_case if strip is None else strip
    cleaned = []
    for char in text:
        if ord(char) == 0 or ord(char) == 0xFFFD or is_control(char):
            continue
        cleaned.append(" " if is_whitespace(char) else char)
    text = "".join(f" {char} " if is_chinese_char(char) else char for char in cleaned)
    tokens = []
    for token in text.strip().split():
        if do_lower_case:
            token = token.lower()
        if strip:
            token = strip_accents(token)
        tokens.extend(split_on_punctuation(token))
    return " ".join(tokens).strip().split()


def wordpiece_tokenize(word: str, vocab: dict[str, int], max_chars: int = 100) -> list[str]:
    chars = list(word)
    if len(chars) > max_chars:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(chars):
        end, piece = len(chars), None
        while start < end:
            candidate = ("##" if start > 0 else "") + "".join(chars[start:end])
            if candidate in vocab:
                piece = candidate
                break
            end -= 1
        if piece is None:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def full_tokenize(text: str, vocab: dict[str, int], do_lower_case: bool, strip: bool | None = None) -> list[int]:
    """The ids of `FullTokenizer(vocab, do_lower_case).tokenize(text)`."""
    return [vocab[piece] for word in basic_tokenize(text, do_lower_case, strip)
            for piece in wordpiece_tokenize(word, vocab)]
