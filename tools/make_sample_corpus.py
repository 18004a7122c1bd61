"""Builds the small corpus and vocabulary bundled in `electra_tf/assets/` (run once; the outputs are committed).

From the public-domain texts in `pretrain-en` (see its README.md) it writes

- `corpus_sample.txt`: three Project Gutenberg books and the US presidential inaugural addresses, about 1.7 MB,
  in BERT's pre-training format: one sentence per line, a blank line between documents (a book or a speech);
- `ATTRIBUTION.md`: each source text, where it comes from and its licence;
- `vocab.txt`: an uncased WordPiece vocabulary of at most 8000 tokens learned from the sample with
  `electra_tf.text.learn_vocabulary` (BERT's special-token ids).

Usage:
    python tools/make_sample_corpus.py [--data-dir /work/shared/data/pretrain-en] [--out-dir electra_tf/assets]
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import re
import time

from electra_tf.text import WordPieceTokenizer, learn_vocabulary, write_vocabulary

# Origin and licence of each group of texts, from pretrain-en/README.md.
NLTK_COPY = "`teropa/nlp` (a copy of the NLTK data corpora) at commit `f89bc5a15b516208de1cfe2abe9692b7ed9a43e2`"
GUTENBERG = {
    "heading": "Project Gutenberg books",
    "origin": f'NLTK "Project Gutenberg Selections" corpus, from {NLTK_COPY}, folder `resources/corpora/gutenberg/`.',
    "licence": "Public domain in the USA (Project Gutenberg texts; NLTK had already removed the Project Gutenberg "
               "header, and the Project Gutenberg trademark/licence text does not appear in the files).",
}
INAUGURAL = {
    "heading": "US presidential inaugural addresses",
    "origin": f"C-SPAN Inaugural Address corpus (NLTK `inaugural`), from {NLTK_COPY}, folder "
              "`resources/corpora/inaugural/`.",
    "licence": "Public domain in the USA: speeches by US presidents in their official capacity, works of the US "
               "government.",
}
GUTENBERG_BOOKS = ("carroll-alice.txt", "austen-persuasion.txt", "chesterton-brown.txt")
# Left out because its punctuation is mis-encoded in the source ("¡¦" for an apostrophe, "¡X" for a dash).
EXCLUDED_ADDRESSES = ("2005-Bush.txt",)
VOCAB_SIZE = 8000

# A sentence ends at . ! or ? (plus closing quotes/brackets) before whitespace and a capital letter, unless the
# word before the full stop is a common abbreviation or an initial ("Mr. Elliot", "G. K. Chesterton").
_BOUNDARY = re.compile(r"""[.!?]+["')\]]*(\s+)(?=["'(\[]*[A-Z])""")
_ABBREVIATION = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Mt|Messrs|Gen|Col|Capt|Lt|Rev|Hon|Jr|Sr|No|vs)|\b[A-Z])\.$")


def split_sentences(paragraph: str) -> list[str]:
    """Splits one paragraph (already on one line) into sentences."""
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(paragraph):
        candidate = paragraph[start:match.start(1)]
        if _ABBREVIATION.search(candidate):
            continue
        sentences.append(candidate)
        start = match.end(1)
    sentences.append(paragraph[start:])
    return [sentence for sentence in sentences if sentence]


def book_paragraphs(text: str) -> list[str]:
    """The paragraphs of a hard-wrapped Gutenberg book: blocks between blank lines, each joined onto one line."""
    blocks = re.split(r"\n\s*\n", text)
    return [paragraph for paragraph in (" ".join(block.split()) for block in blocks) if paragraph]


def speech_paragraphs(text: str) -> list[str]:
    """The paragraphs of a speech, which are already one per line."""
    return [paragraph for paragraph in (" ".join(line.split()) for line in text.split("\n")) if paragraph]


def to_document(paragraphs: list[str]) -> str:
    """One sentence per line."""
    return "\n".join(sentence for paragraph in paragraphs for sentence in split_sentences(paragraph))


def write_attribution(path: pathlib.Path, groups: list[tuple[dict[str, str], list[tuple[str, str, bytes]]]]) -> None:
    """Writes ATTRIBUTION.md: per group of texts its origin and licence, then each file with its sha256."""
    sections = []
    for group, texts in groups:
        rows = "\n".join(f"| `{name}` | {title} | `{hashlib.sha256(raw).hexdigest()}` |" for name, title, raw in texts)
        sections.append(f"""## {group['heading']}

Origin: {group['origin']}

Licence: {group['licence']}

| file in pretrain-en | text | sha256 of the source file |
|---|---|---|
{rows}
""")
    path.write_text("""# Sources of `corpus_sample.txt` and `vocab.txt`

`corpus_sample.txt` is a small English sample for examples and tests, made by `tools/make_sample_corpus.py`
from the public-domain texts below (files of the `pretrain-en` data set, whose README gives the same facts).
Each book or speech is one document; the hard-wrapped lines of the books were joined into paragraphs and
every paragraph split into sentences (one per line, by a simple regular expression), with a blank line
between documents. Apart from whitespace, the text was not changed. `inaugural/2005-Bush.txt` is left out: its punctuation is
mis-encoded in the source.

`vocab.txt` is an uncased WordPiece vocabulary learned from `corpus_sample.txt` with
`electra_tf.text.learn_vocabulary` (special tokens at the BERT ids: `[PAD]`=0, `[UNK]`=100, `[CLS]`=101,
`[SEP]`=102, `[MASK]`=103). It is a derived work of the same public-domain texts.

""" + "\n".join(sections), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=pathlib.Path, default=pathlib.Path("/work/shared/data/pretrain-en"))
    parser.add_argument("--out-dir", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parents[1] / "electra_tf" / "assets")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    documents, books, addresses = [], [], []
    for name in GUTENBERG_BOOKS:
        path = args.data_dir / "gutenberg" / name
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        documents.append(to_document(book_paragraphs(text)))
        title = text.split("\n", 1)[0].strip().strip("[]")  # NLTK's first line: "[Title by Author Year]"
        books.append((f"gutenberg/{name}", title, raw))
    for path in sorted((args.data_dir / "inaugural").glob("*.txt")):
        if path.name in EXCLUDED_ADDRESSES:
            continue
        raw = path.read_bytes()
        documents.append(to_document(speech_paragraphs(raw.decode("utf-8"))))
        year, president = path.stem.split("-", 1)
        addresses.append((f"inaugural/{path.name}", f"{president}, {year}", raw))

    corpus_path = args.out_dir / "corpus_sample.txt"
    corpus_path.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    write_attribution(args.out_dir / "ATTRIBUTION.md", [(GUTENBERG, books), (INAUGURAL, addresses)])

    lines = [line for line in corpus_path.read_text(encoding="utf-8").split("\n") if line]
    start = time.perf_counter()
    vocabulary = learn_vocabulary(lines, VOCAB_SIZE, lowercase=True)
    seconds = time.perf_counter() - start
    vocab_path = args.out_dir / "vocab.txt"
    write_vocabulary(vocabulary, vocab_path)

    tokenizer = WordPieceTokenizer(vocab_path)
    ids = tokenizer.tokenize(lines).flat_values.numpy()
    print(f"{corpus_path}: {corpus_path.stat().st_size} bytes, {len(documents)} documents, {len(lines)} lines")
    print(f"{vocab_path}: {len(vocabulary)} tokens, learned in {seconds:.1f} s; the sample is {ids.size} tokens, "
          f"{(ids == tokenizer.unk_token_id).mean():.4%} [UNK]")


if __name__ == "__main__":
    main()
