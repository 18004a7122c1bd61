"""Quick start: pre-train a tiny ELECTRA on the bundled corpus, then watch its discriminator spot replaced words.

    python recipes/quickstart.py [--num_steps 1500] [--output_dir runs/quickstart]

On a 2-core CPU this takes a few minutes. It prints the training log, then for a few sentences with one
word swapped for an out-of-place one, the discriminator's per-token probability of "replaced".
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from electra_tf.config import ElectraConfig  # noqa: E402
from electra_tf.data.pretraining import CorpusSource  # noqa: E402
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE  # noqa: E402
from electra_tf.training.pretrain import PretrainingJob, replaced_token_probabilities, run_pretraining  # noqa: E402

# (original, with one word replaced by a frequent word that does not fit: the kind of fake a young
# generator, which has learned word frequencies but little context, produces)
SENTENCES = [
    ("alice was beginning to get very tired of sitting by her sister on the bank",
     "alice was beginning to get very tired of sitting by her the on the bank"),
    ("the king and queen of hearts were seated on their throne when they arrived",
     "the king and queen of hearts were seated on their throne when they of"),
    ("we the people of the united states , in order to form a more perfect union",
     "we the people of the united states , in order to and a more perfect union"),
]

flags.DEFINE_integer("num_steps", 1500, "Training steps.")
flags.DEFINE_string("output_dir", "runs/quickstart", "Where the model directory is written.")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    del argv
    pretrainer = run_pretraining(PretrainingJob(
        source=CorpusSource(text_files=str(SAMPLE_CORPUS_FILE)), output_dir=FLAGS.output_dir,
        config=ElectraConfig.from_preset("tiny"), vocab=str(SAMPLE_VOCAB_FILE), num_steps=FLAGS.num_steps,
        batch_size=32, seq_len=128, learning_rate=2e-4, warmup_steps=FLAGS.num_steps // 10,
        checkpoint_every=max(1, FLAGS.num_steps // 10)), verbose=2)
    from electra_tf.models.base import load_tokenizer

    tokenizer = load_tokenizer(FLAGS.output_dir)
    print("\nP(replaced) per token; the swapped word is marked with *")
    for original, corrupted in SENTENCES:
        swapped = {i for i, (a, b) in enumerate(zip(original.split(), corrupted.split())) if a != b}
        for label, sentence in (("original ", original), ("corrupted", corrupted)):
            scores = replaced_token_probabilities(pretrainer, tokenizer, sentence)
            print(f"{label}: " + " ".join(f"{token}({p:.2f})" for token, p in scores))
        print(f"           swapped word: {corrupted.split()[min(swapped)]}*\n")


if __name__ == "__main__":
    app.run(main)
