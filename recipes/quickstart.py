"""Quick start: from the bundled text to a served model, in about 2 minutes on 2 CPU cores.

    python recipes/quickstart.py [--num_steps 600] [--output_dir runs/quickstart]

1. Pre-trains a tiny ELECTRA on the bundled public-domain corpus and shows it at work on sentences it has not
   seen: the generator replaces about 15% of the tokens, the discriminator gives each token its probability of
   having been replaced (replaced tokens marked *), and the ROC AUC over the held-out tokens, printed at every
   checkpoint, shows it learning.
2. Fine-tunes a classifier on a bundled labelled task: which source a passage comes from (Alice in Wonderland,
   Persuasion, Father Brown or an inaugural address), and reports its dev accuracy next to the majority class.
3. Exports it as a versioned SavedModel for TF Serving, and
4. answers raw-text requests through the SavedModel alone.
"""

from __future__ import annotations

from electra_tf.console import import_tensorflow_quietly

import_tensorflow_quietly()  # before anything imports TensorFlow

import pathlib  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
import tensorflow as tf  # noqa: E402

from electra_tf.config import ElectraConfig  # noqa: E402
from electra_tf.data.passages import PASSAGE_SOURCES  # noqa: E402
from electra_tf.data.pretraining import CorpusSource  # noqa: E402
from electra_tf.export.serving import export_model_directory  # noqa: E402
from electra_tf.models.pretrainer import ElectraPretrainer  # noqa: E402
from electra_tf.tasks.passage_source import PassageSourceFinetuning  # noqa: E402
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE  # noqa: E402
from electra_tf.text.tokenizer import WordPieceTokenizer  # noqa: E402
from electra_tf.training.finetune import FinetuningJob, run_finetuning  # noqa: E402
from electra_tf.training.pretrain import PretrainingJob, run_pretraining  # noqa: E402

# A tiny model learns the four sources in a few hundred steps at a larger rate than the paper's Small one.
FINETUNING_EPOCHS = 10
FINETUNING_LEARNING_RATE = 1e-3

# Held out: not in the bundled corpus.
SENTENCES = [
    "the old man walked slowly down the road towards the little village by the river .",
    "she opened the letter and read it twice before she put it back on the table .",
    "the people of this nation have always believed in the power of free government .",
    "after dinner the children went out into the garden to play until it was dark .",
    "he said that he would come back in the morning , but nobody ever saw him again .",
    "the ship sailed from the harbour at dawn with all her men on board .",
]

# Written for this quick start (not in the corpus): one in the manner of each source.
REQUESTS = [
    "the white rabbit hurried past alice, muttering that the duchess would be very cross indeed .",
    "anne could not help feeling that captain wentworth's manner towards her was colder than it had been .",
    "father brown blinked at the broken lamp and said quietly that the murderer had never left the room .",
    "fellow citizens , we meet today to renew the promise of liberty that our union has kept for generations .",
]

flags.DEFINE_integer("num_steps", 600, "Pre-training steps.")
flags.DEFINE_string("output_dir", "runs/quickstart", "Where the pre-trained and fine-tuned models and the SavedModel go.")
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


def held_out_auc(pretrainer: ElectraPretrainer, tokenizer: WordPieceTokenizer, show: bool = False) -> float:
    """The discriminator's ROC AUC over the tokens of the held-out sentences, each corrupted ten ways."""
    labels, scores = [], []
    for seed in range(10):
        for tokens in replaced_token_detection(pretrainer, tokenizer, SENTENCES, seed=seed):
            labels += [replaced for _, replaced, _ in tokens]
            scores += [p for _, _, p in tokens]
            if show and seed == 0:
                print("  " + " ".join(f"{'*' if replaced else ''}{token}({p:.2f})" for token, replaced, p in tokens))
    return roc_auc_score(labels, scores)


class HeldOutAuc(keras.callbacks.Callback):
    """Prints the held-out RTD AUC at every checkpoint: ELECTRA learning, step by step."""

    def __init__(self, tokenizer: WordPieceTokenizer, steps_per_epoch: int):
        super().__init__()
        self.tokenizer, self.steps_per_epoch, self.curve = tokenizer, steps_per_epoch, []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.curve.append(held_out_auc(self.model, self.tokenizer))
        print(f"  held-out RTD AUC after {(epoch + 1) * self.steps_per_epoch} steps: {self.curve[-1]:.3f}")


def pretrain(output_dir: pathlib.Path) -> ElectraPretrainer:
    start = time.perf_counter()
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    every = max(1, FLAGS.num_steps // 6)
    curve = HeldOutAuc(tokenizer, every)
    # A learning rate of 1e-4 keeps the tiny discriminator ahead of its generator: at 2e-4 the held-out AUC peaks
    # near step 300 and falls as the generator's fakes turn into frequent words (README, "What the curve means").
    pretrainer = run_pretraining(PretrainingJob(
        source=CorpusSource(text_files=str(SAMPLE_CORPUS_FILE)), output_dir=str(output_dir),
        config=ElectraConfig.from_preset("tiny"), vocab=str(SAMPLE_VOCAB_FILE), num_steps=FLAGS.num_steps,
        batch_size=32, seq_len=128, learning_rate=1e-4, warmup_steps=FLAGS.num_steps // 10,
        checkpoint_every=every), verbose=2, callbacks=[curve])
    print("\nHeld-out sentences after the generator's replacements (* = replaced), with P(replaced):")
    auc = held_out_auc(pretrainer, tokenizer, show=True)
    first = f"{curve.curve[0]:.3f} after {every} steps, " if len(curve.curve) > 1 else ""
    print(f"\n[1/4] Pre-trained a tiny ELECTRA for {FLAGS.num_steps} steps in {time.perf_counter() - start:.0f} s: "
          f"discriminator ROC AUC on held-out tokens {first}{auc:.3f} at the end; model directory {output_dir}")
    return pretrainer


def finetune(pretrained: pathlib.Path, output_dir: pathlib.Path) -> pathlib.Path:
    start = time.perf_counter()
    task = PassageSourceFinetuning()
    results = run_finetuning(task, FinetuningJob(model_dir=str(pretrained), output_dir=str(output_dir),
                                                 num_epochs=FINETUNING_EPOCHS, learning_rate=FINETUNING_LEARNING_RATE,
                                                 max_length=64))
    accuracy = results["median"]["dev"]["accuracy"]
    print(f"[2/4] Fine-tuned a classifier of passage sources ({', '.join(PASSAGE_SOURCES)}) on {len(task.train)} "
          f"passages in {time.perf_counter() - start:.0f} s: dev accuracy {accuracy:.1f}% (majority class "
          f"{task.majority_accuracy():.1f}%); model directory {output_dir / 'model'}")
    return output_dir / "model"


def export(model_dir: pathlib.Path, export_dir: pathlib.Path) -> pathlib.Path:
    saved_model = export_model_directory(model_dir, export_dir)
    print(f"[3/4] Exported a SavedModel for TF Serving (raw text in, labels out): {saved_model}")
    return saved_model


def serve(saved_model: pathlib.Path) -> None:
    # The SavedModel alone: what TF Serving or `electra-tf predict --model` loads.
    answers = tf.saved_model.load(str(saved_model)).signatures["serving_default"](text=tf.constant(REQUESTS))
    print("[4/4] Answers from the SavedModel:")
    for text, label, probabilities in zip(REQUESTS, answers["labels"].numpy(), answers["probabilities"].numpy()):
        print(f"  {label.decode():<13} {probabilities.max():.2f}  {text}")


def main(argv: list[str]) -> None:
    del argv
    import_tensorflow_quietly()  # again after absl parsed the flags: its verbosity flag resets the log level
    output_dir = pathlib.Path(FLAGS.output_dir)
    pretrain(output_dir / "pretrained")
    model_dir = finetune(output_dir / "pretrained", output_dir / "classifier")
    serve(export(model_dir, output_dir / "saved_model"))


if __name__ == "__main__":
    app.run(main)
