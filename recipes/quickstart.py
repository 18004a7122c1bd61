"""Quick start: pre-train a tiny ELECTRA on the bundled corpus, then watch it detect replaced tokens.

    python recipes/quickstart.py [--num_steps 1500] [--output_dir runs/quickstart]

On a 2-core CPU this takes about 5 minutes. It prints the training log; then, on sentences the model has not
seen, the generator replaces about 15% of the tokens (as in training) and the discriminator gives each token
its probability of having been replaced. Replaced tokens are marked with *, and the discriminator's ROC AUC
over all tokens of the held-out sentences sums up how well it separates them (0.5 is chance).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
import tensorflow as tf  # noqa: E402

from electra_tf.config import ElectraConfig  # noqa: E402
from electra_tf.data.pretraining import CorpusSource  # noqa: E402
from electra_tf.models.pretrainer import ElectraPretrainer  # noqa: E402
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE  # noqa: E402
from electra_tf.text.tokenizer import WordPieceTokenizer, load_tokenizer  # noqa: E402
from electra_tf.training.pretrain import PretrainingJob, run_pretraining  # noqa: E402

# Held out: not in the bundled corpus.
SENTENCES = [
    "the old man walked slowly down the road towards the little village by the river .",
    "she opened the letter and read it twice before she put it back on the table .",
    "the people of this nation have always believed in the power of free government .",
    "after dinner the children went out into the garden to play until it was dark .",
    "he said that he would come back in the morning , but nobody ever saw him again .",
    "the ship sailed from the harbour at dawn with all her men on board .",
]

flags.DEFINE_integer("num_steps", 1500, "Training steps.")
flags.DEFINE_string("output_dir", "runs/quickstart", "Where the model directory is written.")
FLAGS = flags.FLAGS


def replaced_token_detection(pretrainer: ElectraPretrainer, tokenizer: WordPieceTokenizer,
                             sentences: list[str], seed: int = 0) -> list[list[tuple[str, bool, float]]]:
    """ELECTRA at work on `sentences`: the generator replaces masked tokens, the discriminator scores each.

    Returns, per sentence, `(token, was_replaced, probability_replaced)` for each WordPiece of the corrupted
    sentence ([CLS]/[SEP] left out).
    """
    ids = tokenizer.tokenize(sentences).to_list()
    length = max(len(row) for row in ids) + 2
    token_ids = np.zeros((len(ids), length), np.int32)
    for row, pieces in enumerate(ids):
        token_ids[row, :len(pieces) + 2] = [tokenizer.cls_token_id, *pieces, tokenizer.sep_token_id]
    inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
              "padding_mask": (token_ids != tokenizer.pad_token_id).astype(np.int32)}
    output = pretrainer(inputs, step=seed)
    corrupted, labels = output.corrupted_ids.numpy(), output.rtd_labels.numpy()
    probabilities = tf.sigmoid(output.rtd_logits).numpy()
    return [[(tokenizer.id_to_token(int(corrupted[row, i])), bool(labels[row, i]), float(probabilities[row, i]))
             for i in range(1, len(pieces) + 1)] for row, pieces in enumerate(ids)]


def main(argv: list[str]) -> None:
    del argv
    pretrainer = run_pretraining(PretrainingJob(
        source=CorpusSource(text_files=str(SAMPLE_CORPUS_FILE)), output_dir=FLAGS.output_dir,
        config=ElectraConfig.from_preset("tiny"), vocab=str(SAMPLE_VOCAB_FILE), num_steps=FLAGS.num_steps,
        batch_size=32, seq_len=128, learning_rate=2e-4, warmup_steps=FLAGS.num_steps // 10,
        checkpoint_every=max(1, FLAGS.num_steps // 10)), verbose=2)
    tokenizer = load_tokenizer(FLAGS.output_dir)
    print("\nHeld-out sentences after the generator's replacements (* = replaced), with P(replaced):")
    labels, scores = [], []
    for seed in range(5):  # five different corruptions of each sentence for the AUC
        for tokens in replaced_token_detection(pretrainer, tokenizer, SENTENCES, seed=seed):
            labels += [replaced for _, replaced, _ in tokens]
            scores += [p for _, _, p in tokens]
            if seed == 0:
                print("  " + " ".join(f"{'*' if replaced else ''}{token}({p:.2f})" for token, replaced, p in tokens))
    print(f"\nDiscriminator ROC AUC on held-out tokens: {roc_auc_score(labels, scores):.3f} "
          f"({sum(labels)} replaced of {len(labels)})")


if __name__ == "__main__":
    app.run(main)
