"""`WordPieceTokenizer` gives the ids of BERT's reference tokenizer (tests/text/bert_reference.py, written from
google-research/bert `tokenization.py`) on a mixed corpus, for both casings, and offsets that read back."""

import csv
import json
from collections import Counter

import pytest

from electra_tf.text import SAMPLE_CORPUS_FILE, WordPieceTokenizer
from electra_tf.text.tokenizer import RESERVED_TOKENS
from tests.test_case import SHARED_DATA
from tests.text import bert_reference

CONSTRUCTED = [
    "Naïve CAFÉ résumé, Café déjà vu; crème brûlée à la mode",
    "Cafe\u0301 and re\u0301sume\u0301 written with combining accents",  # decomposed forms
    "Ｈｅｌｌｏ，世界！全角字符：（括号）【书名号】《标题》“引号”「かぎ」…… １２３ ＡＢＣ",  # full-width forms
    "Straße, Maß und Fuß; ﬁne ﬂour, ǆungla, Ĳssel, ½ cup, ² squared, ™ and © and ℃",  # ß, ligatures
    "Wait… what?! — an em dash – an en dash ‘single’ “double” «guillemets» ¿qué? ¡sí!",
    "emoji 😀👍🏽 and 👩‍💻 (a ZWJ sequence) and ❤️ with a variation selector, glued:hello😀world",
    "control\x00char\x07bell\x1bescape\x7fdelete\x85next-line\x1fseparators\x0bvertical\x0cform-feed",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom soft\u00adhyphen word\u2060joiner",
    "no-break\u00a0space, ideographic\u3000space, thin\u2009space, line\u2028separator, para\u2029graph",
    "tabs\tand\nnew\r\nlines \ufffd replacement",
    "İstanbul, IJsselmeer, ǅemal, ΑΘΗΝΑ αθήνα, Москва, Ελλάδα, ΟΔΟΣ ΟΔΟΣ. ΑΣ'Σ ΣΑΣ 中Σ Σ",  # final sigma
    "日本語のテキスト、カタカナとひらがな。한국어 문장입니다. 中文混合English单词123数字",
    "𠀀𠀁 CJK extension B, 丽 compatibility ideographs 兀, ⺀ radicals ㄅ bopomofo",
    "العربية مع التشكيل: كَتَبَ   हिन्दी देवनागरी   ไทย ภาษา   עִבְרִית",
    "x" * 101 + " " + "é" * 100 + " " + "ü" * 101 + " " + "y" * 100,  # BERT's 100-character limit
    "[UNK] [CLS] [SEP] [MASK] ##ing ## # #hash @user http://example.com/a_b?c=d&e=f",
    "$100 + 5% = <tag> ^caret~ `tick` |pipe| {brace} \\backslash",
    "",
    "   ",
]


def _mixed_corpus() -> list[str]:
    lines = list(CONSTRUCTED)
    lines += [line for line in SAMPLE_CORPUS_FILE.read_text(encoding="utf-8").split("\n") if line][:300]
    reviews = SHARED_DATA / "chinese" / "ChnSentiCorp_htl_all" / "ChnSentiCorp_htl_all.csv"
    if reviews.is_file():
        with reviews.open(encoding="utf-8", newline="") as f:
            lines += [row["review"] for row in csv.DictReader(f)]
    for language in ("zh", "en"):
        xquad = SHARED_DATA / "squad" / "xquad" / f"xquad.{language}.json"
        if xquad.is_file():
            for article in json.loads(xquad.read_text(encoding="utf-8"))["data"]:
                for paragraph in article["paragraphs"]:
                    lines.append(paragraph["context"])
                    lines += [qa["question"] for qa in paragraph["qas"]]
    return lines


MIXED = _mixed_corpus()


def _vocabulary(lines: list[str], lowercase: bool) -> list[str]:
    """Reserved tokens, every character seen twice (alone and as "##"), frequent words and word endings: most
    words split into several pieces and a few (with a character seen once) become [UNK]."""
    words = Counter(word for line in lines for word in bert_reference.basic_tokenize(line, lowercase))
    chars = Counter(char for word, count in words.items() for char in word for _ in range(count))
    endings = Counter(word[-n:] for word in words for n in (2, 3) if len(word) > n)
    tokens = list(RESERVED_TOKENS)
    tokens += [char for char, count in chars.items() if count >= 2 and char not in tokens]
    tokens += ["##" + char for char, count in chars.items() if count >= 2]
    tokens += [word for word, _ in words.most_common(3000) if word not in tokens and len(word) > 1]
    tokens += ["##" + ending for ending, _ in endings.most_common(500)]
    return list(dict.fromkeys(tokens))


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_ids_equal_bert_reference_tokenizer_on_every_line(lowercase):
    tokens = _vocabulary(MIXED, lowercase)
    vocab = {token: i for i, token in enumerate(tokens)}
    ours = WordPieceTokenizer(tokens, lowercase=lowercase).tokenize(MIXED).to_list()
    expected = [bert_reference.full_tokenize(line, vocab, lowercase) for line in MIXED]
    differing = [i for i, (a, b) in enumerate(zip(ours, expected)) if a != b]
    assert not differing, "\n".join(
        f"line {i} {MIXED[i][:80]!r}:\n  ours {[tokens[t] for t in ours[i]][:30]}\n  BERT "
        f"{[tokens[t] for t in expected[i]][:30]}" for i in differing[:5]) + f"\n{len(differing)} lines differ"
    assert len(MIXED) > 300 and sum(len(ids) for ids in ours) > 10_000
    assert sum(ids.count(vocab["[UNK]"]) for ids in ours) > 0  # the corpus exercises [UNK] too


@pytest.mark.parametrize("lowercase, strip_accents", [(True, False), (False, True)])
def test_mixed_casing_settings_follow_hugging_face_options(lowercase, strip_accents):
    tokens = _vocabulary(CONSTRUCTED, lowercase)
    vocab = {token: i for i, token in enumerate(tokens)}
    ours = WordPieceTokenizer(tokens, lowercase=lowercase, strip_accents=strip_accents).tokenize(CONSTRUCTED)
    assert ours.to_list() == [bert_reference.full_tokenize(line, vocab, lowercase, strip_accents)
                              for line in CONSTRUCTED]


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_offsets_cover_the_input_characters_each_piece_comes_from(lowercase):
    tokens = _vocabulary(MIXED, lowercase)
    tokenizer = WordPieceTokenizer(tokens, lowercase=lowercase)
    lines = CONSTRUCTED + MIXED[-400:]
    ids, starts, ends = (values.to_list() for values in tokenizer.tokenize_with_offsets(lines))
    assert ids == tokenizer.tokenize(lines).to_list()  # per-character (with offsets) = whole-string normalisation
    checked = 0
    for line, row_ids, row_starts, row_ends in zip(lines, ids, starts, ends):
        encoded = line.encode("utf-8")
        for token_id, start, end in zip(row_ids, row_starts, row_ends):
            span = encoded[start:end].decode("utf-8")  # whole characters: raises otherwise
            normalized = "".join(bert_reference.basic_tokenize(span, lowercase))
            if token_id == tokenizer.unk_token_id:
                assert span and normalized, (line, start, end)
            else:  # (a span alone loses its context: a word-final "Σ" alone lower-cases to "σ", not "ς")
                piece = tokens[token_id].removeprefix("##")
                assert piece.replace("ς", "σ") in normalized.replace("ς", "σ"), (line, tokens[token_id], span)
            checked += 1
    assert checked > 1000
