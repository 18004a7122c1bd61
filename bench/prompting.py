"""Prompting the discriminator on SST-2 dev: zero-shot and 16-shot, next to the majority class.

    python bench/prompting.py --glue_dir ../shared/data/glue > bench/results/prompting.json   # about 10 minutes

Models: the tiny Hugging Face fixture converted (random weights: a check that the path runs, near chance by
construction) and a tiny ELECTRA pre-trained here as the quick start does (600 steps on the bundled corpus of
books, not reviews). Template `{text} It was {word}.`, words terrible / great (Xia et al.). Few-shot: 16 training
examples per label and a disjoint 16-per-label few-shot dev set that selects the epoch (LM-BFF's protocol), 20
epochs of batch 8, one run per seed; the whole SST-2 dev set is scored.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import statistics
import sys
import tempfile
import time

from absl import app, flags

from common import device_name  # bench/common.py (the script's folder is on sys.path)

FLAGS = flags.FLAGS
flags.DEFINE_string("glue_dir", "../shared/data/glue", "The GLUE root (SST-2/ in the tsv layout).")
flags.DEFINE_integer("pretraining_steps", 600, "Pre-training steps of the tiny model.")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Few-shot draws and runs.")
flags.DEFINE_float("learning_rate", 1e-4, "Few-shot learning rate.")

HF_FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hf" / "discriminator"


def main(argv: list[str]) -> None:
    del argv
    from electra_tf.config import ElectraConfig
    from electra_tf.convert.checkpoint import convert_checkpoint
    from electra_tf.data.pretraining import CorpusSource
    from electra_tf.tasks.prompting import FEW_SHOT_BATCH_SIZE, FEW_SHOT_EPOCHS, PromptFinetuning
    from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE
    from electra_tf.training.finetune import FinetuningJob, run_finetuning
    from electra_tf.training.pretrain import PretrainingJob, run_pretraining

    report = {"benchmark": "prompting", "device": device_name(), "date": time.strftime("%Y-%m-%d"),
              "template": "{text} It was {word}.", "shots_per_class": 16, "seeds": [int(s) for s in FLAGS.seeds]}
    # Training logs go to stderr: stdout is the JSON.
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
        root = pathlib.Path(tmp)
        convert_checkpoint("hf", HF_FIXTURE, root / "hf")
        steps = FLAGS.pretraining_steps
        run_pretraining(PretrainingJob(
            source=CorpusSource(text_files=str(SAMPLE_CORPUS_FILE)), output_dir=str(root / "tiny"),
            config=ElectraConfig.from_preset("tiny"), vocab=str(SAMPLE_VOCAB_FILE), num_steps=steps, batch_size=32,
            seq_len=128, learning_rate=1e-4, warmup_steps=steps // 10, checkpoint_every=steps), verbose=0)
        # The fixture's 64-word vocabulary has neither terrible nor great: its own two adjectives stand in.
        models = {"hf_fixture": (root / "hf", ["small", "big"], 32),
                  f"tiny_pretrained_{steps}_steps": (root / "tiny", ["terrible", "great"], 128)}
        for name, (model_dir, words, length) in models.items():
            zero = PromptFinetuning("sst2", FLAGS.glue_dir, report["template"], words)
            entry = {"label_words": words, "majority_accuracy": zero.majority_accuracy(),
                     "zero_shot_accuracy": zero.zero_shot(str(model_dir), length)["accuracy"]}
            if name != "hf_fixture":
                few_shot = []
                for seed in report["seeds"]:
                    task = PromptFinetuning("sst2", FLAGS.glue_dir, report["template"], words, shots_per_class=16,
                                            seed=seed)
                    results = run_finetuning(task, FinetuningJob(
                        model_dir=str(model_dir), output_dir=str(root / name / f"seed_{seed}"), seeds=(seed,),
                        num_epochs=FEW_SHOT_EPOCHS, batch_size=FEW_SHOT_BATCH_SIZE,
                        learning_rate=FLAGS.learning_rate, max_length=length))
                    few_shot.append(results["median"]["dev"]["accuracy"])
                entry.update(few_shot_accuracy=few_shot, few_shot_median=statistics.median(few_shot),
                             few_shot_learning_rate=FLAGS.learning_rate)
            report[name] = entry
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    app.run(main)
