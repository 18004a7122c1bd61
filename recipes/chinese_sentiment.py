"""Chinese end to end: a Chinese vocabulary, pre-training with and without whole-word masking, sentiment
fine-tuning on ChnSentiCorp, export, and Chinese requests answered by the SavedModel.

    python recipes/chinese_sentiment.py --data ../shared/data/chinese/ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv \
        [--num_steps 600] [--output_dir runs/chinese]

1. Learns a vocabulary from the training reviews (one token per CJK ideograph, as BERT's Chinese vocabulary,
   WordPiece for the rest).
2. Pre-trains a tiny ELECTRA on the training reviews twice: masking tokens, then whole words (segmented by
   jieba when it is installed, else each ideograph is a word).
3. Fine-tunes a sentiment classifier from each and reports dev accuracy next to the majority class, in
   `results.json`. One run each: no claim of a winner (that would take several seeds).
4. Exports the whole-word model's classifier and answers Chinese reviews through the SavedModel.
"""

from __future__ import annotations

from electra_tf.console import import_tensorflow_quietly

import_tensorflow_quietly()  # before anything imports TensorFlow

import json  # noqa: E402
import pathlib  # noqa: E402

from absl import app, flags  # noqa: E402
import tensorflow as tf  # noqa: E402

from electra_tf.config import ElectraConfig  # noqa: E402
from electra_tf.data.glue import GlueSplit  # noqa: E402
from electra_tf.data.pretraining import CorpusSource, WholeWords  # noqa: E402
from electra_tf.export.serving import export_model_directory  # noqa: E402
from electra_tf.tasks.chnsenticorp import ChnSentiCorpFinetuning  # noqa: E402
from electra_tf.text.tokenizer import learn_vocabulary, write_vocabulary  # noqa: E402
from electra_tf.training.finetune import FinetuningJob, run_finetuning  # noqa: E402
from electra_tf.training.pretrain import METADATA_FILE, PretrainingJob, run_pretraining  # noqa: E402

REQUESTS = ["房间干净整洁，服务热情周到，下次还会再来。", "设施陈旧，隔音很差，早餐也不好吃，不推荐。"]

flags.DEFINE_string("data", None, "ChnSentiCorp_htl_all.csv (label,review).")
flags.DEFINE_string("output_dir", "runs/chinese", "Where the models, the SavedModel and results.json go.")
flags.DEFINE_integer("num_steps", 600, "Pre-training steps of each model.")
flags.DEFINE_integer("vocab_size", 6000, "Vocabulary size to learn.")
flags.DEFINE_integer("num_epochs", 3, "Fine-tuning epochs.")
flags.DEFINE_integer("max_train_examples", None, "Fine-tune on the first N training reviews only (a quick check).")
FLAGS = flags.FLAGS


def whole_words() -> WholeWords:
    """jieba's words when it is installed (the common Chinese segmenter), else one word per ideograph."""
    try:
        import jieba  # noqa: F401
    except ImportError:
        return WholeWords(chinese="none")
    return WholeWords(chinese="jieba")


def run(data: str, output_dir: pathlib.Path, num_steps: int, vocab_size: int, num_epochs: int,
        max_train_examples: int | None = None) -> dict:
    """Steps 1-4; returns (and writes to `output_dir/results.json`) the measured numbers."""
    task = ChnSentiCorpFinetuning(data)
    reviews = task.train.texts[0]
    if max_train_examples:
        task.train = GlueSplit((reviews[:max_train_examples],), task.train.labels[:max_train_examples])
    output_dir.mkdir(parents=True, exist_ok=True)
    corpus = output_dir / "train_reviews.txt"  # one document: every training review, one per line
    corpus.write_text("\n".join(reviews) + "\n", encoding="utf-8")
    vocab = output_dir / "vocab.txt"
    write_vocabulary(learn_vocabulary(reviews, vocab_size), vocab)
    results = {"majority_accuracy": task.majority_accuracy(), "train_examples": len(task.train),
               "dev_examples": len(task.dev), "pretraining_steps": num_steps}
    for name, masking in (("token_masking", None), ("whole_word_masking", whole_words())):
        pretrained = output_dir / name / "pretrained"
        run_pretraining(PretrainingJob(
            source=CorpusSource(text_files=str(corpus)), output_dir=str(pretrained),
            config=ElectraConfig.from_preset("tiny"), vocab=str(vocab), whole_words=masking, num_steps=num_steps,
            batch_size=32, seq_len=128, learning_rate=1e-4, warmup_steps=num_steps // 10,
            checkpoint_every=max(1, num_steps // 2)), verbose=2)
        finetuned = run_finetuning(task, FinetuningJob(
            model_dir=str(pretrained), output_dir=str(output_dir / name / "classifier"), num_epochs=num_epochs,
            learning_rate=1e-3, max_length=128))
        pretraining = json.loads((pretrained / METADATA_FILE).read_text())["final_epoch_metrics"]
        results[name] = {"dev_accuracy": finetuned["median"]["dev"]["accuracy"],
                         "chinese_segmentation": masking.chinese if masking else None,
                         "pretraining": {key: pretraining[key] for key in ("mlm_loss", "mlm_accuracy", "rtd_auc")}}
        print(f"{name}: dev accuracy {results[name]['dev_accuracy']:.1f}% "
              f"(majority class {results['majority_accuracy']:.1f}%)")
    saved_model = export_model_directory(output_dir / "whole_word_masking" / "classifier" / "model",
                                         output_dir / "saved_model")
    answers = tf.saved_model.load(str(saved_model)).signatures["serving_default"](text=tf.constant(REQUESTS))
    results["served"] = [{"text": text, "label": label.decode()} for text, label in
                          zip(REQUESTS, answers["labels"].numpy())]
    results["saved_model"] = str(saved_model)
    (output_dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    return results


def main(argv: list[str]) -> None:
    del argv
    import_tensorflow_quietly()  # again after absl parsed the flags: its verbosity flag resets the log level
    if not FLAGS.data:
        raise app.UsageError("--data is required: the path of ChnSentiCorp_htl_all.csv.")
    results = run(FLAGS.data, pathlib.Path(FLAGS.output_dir), FLAGS.num_steps, FLAGS.vocab_size, FLAGS.num_epochs,
                  FLAGS.max_train_examples)
    for served in results["served"]:
        print(f"  {served['label']:<9} {served['text']}")


if __name__ == "__main__":
    app.run(main)
