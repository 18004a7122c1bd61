"""LoRA against full fine-tuning on the same task and budget: dev score, trainable weights, step time, peak memory.

    python bench/lora_vs_full.py > bench/results/lora_vs_full.json     # about 10 minutes on 2 CPU cores

Two workloads, each arm in its own process (so that its peak resident memory is its own):
- `score`: a tiny ELECTRA pre-trained here as the quick start does (600 steps on the bundled corpus), fine-tuned
  on the quick start's passage-source task (4 classes, 1,920 training passages, 10 epochs, length 64): full
  fine-tuning at the quick start's learning rate, LoRA (rank 8, alpha 16) on query and value (Hu et al.'s choice)
  and on every projection, at a larger rate, as LoRA usually needs.
- `speed`: ELECTRA-Small shapes (random weights), batch 32 x 128, 40 steps of the same task: step time and memory
  where the encoder is large enough for the optimizer state to matter.
"""

from __future__ import annotations

import json
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from electra_tf.models.lora import DEFAULT_TARGETS, TARGET_LAYERS

FLAGS = flags.FLAGS
flags.DEFINE_enum("arm", None, ["full", "lora", "lora_all"], "Run one arm in this process (used by the parent run).")
flags.DEFINE_enum("workload", "score", ["score", "speed"], "With --arm: which workload.")
flags.DEFINE_string("model_dir", None, "With --arm: the pre-trained model directory.")
flags.DEFINE_string("output_dir", None, "With --arm: where the fine-tuning run goes.")
flags.DEFINE_integer("pretraining_steps", 600, "Pre-training steps of the score workload's tiny model.")
flags.DEFINE_integer("lora_rank", 8, "LoRA rank.")
flags.DEFINE_float("lora_alpha", 16.0, "LoRA alpha (scale alpha / rank).")

LEARNING_RATES = {"full": 1e-3, "lora": 5e-3, "lora_all": 5e-3}
TARGETS = {"lora": DEFAULT_TARGETS, "lora_all": tuple(TARGET_LAYERS)}  # Hu et al.'s query/value; every projection
WORKLOADS = {"score": {"num_epochs": 10, "max_length": 64, "batch_size": 32},
             "speed": {"num_steps": 40, "max_length": 128, "batch_size": 32}}


def run_arm() -> dict:
    """Fine-tunes one arm here; its numbers."""
    import keras

    from electra_tf.models.lora import LoraSettings
    from electra_tf.tasks.passage_source import PassageSourceFinetuning
    from electra_tf.training.finetune import FinetuningJob, run_finetuning

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    lora = LoraSettings(FLAGS.lora_rank, FLAGS.lora_alpha, TARGETS[FLAGS.arm]) if FLAGS.arm != "full" else None
    times = StepTimes()
    start = time.perf_counter()
    results = run_finetuning(PassageSourceFinetuning(), FinetuningJob(
        model_dir=FLAGS.model_dir, output_dir=FLAGS.output_dir, learning_rate=LEARNING_RATES[FLAGS.arm], lora=lora,
        **WORKLOADS[FLAGS.workload]), callbacks=[times])
    return {"dev_accuracy": results["median"]["dev"]["accuracy"], "parameters": results["parameters"],
            "learning_rate": LEARNING_RATES[FLAGS.arm], "lora": results["settings"]["lora"],
            "steps": results["runs"][0]["steps"], "median_step_s": statistics.median(times.seconds[1:]),
            "wall_s": round(time.perf_counter() - start, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def prepare_models(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """The score workload's pre-trained tiny model and the speed workload's random Small one."""
    from electra_tf.config import ElectraConfig
    from electra_tf.data.pretraining import CorpusSource
    from electra_tf.models.pretrainer import ElectraPretrainer
    from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE, WordPieceTokenizer
    from electra_tf.training.pretrain import PretrainingJob, run_pretraining

    steps = FLAGS.pretraining_steps
    run_pretraining(PretrainingJob(
        source=CorpusSource(text_files=str(SAMPLE_CORPUS_FILE)), output_dir=str(root / "tiny"),
        config=ElectraConfig.from_preset("tiny"), vocab=str(SAMPLE_VOCAB_FILE), num_steps=steps, batch_size=32,
        seq_len=128, learning_rate=1e-4, warmup_steps=steps // 10, checkpoint_every=steps), verbose=0)
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    ElectraPretrainer(ElectraConfig.from_preset("small", vocab_size=tokenizer.vocab_size)).save_pretrained(
        root / "small", tokenizer)
    return {"score": root / "tiny", "speed": root / "small"}


def main(argv: list[str]) -> None:
    del argv
    if FLAGS.arm:
        print(json.dumps(run_arm()))
        return
    from common import device_name  # bench/common.py (the script's folder is on sys.path)

    report = {"benchmark": "lora_vs_full", "device": device_name(), "date": time.strftime("%Y-%m-%d"),
              "lora": {"rank": FLAGS.lora_rank, "alpha": FLAGS.lora_alpha, "targets": TARGETS},
              "workloads": WORKLOADS}
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        models = prepare_models(root)
        for workload, model_dir in models.items():
            arms = {}
            for arm in ("full", "lora", "lora_all"):
                output = subprocess.run(
                    [sys.executable, __file__, f"--arm={arm}", f"--workload={workload}",
                     f"--model_dir={model_dir}", f"--output_dir={root / workload / arm}",
                     f"--lora_rank={FLAGS.lora_rank}", f"--lora_alpha={FLAGS.lora_alpha}"],
                    capture_output=True, text=True, check=True).stdout
                arms[arm] = json.loads(output.strip().splitlines()[-1])
            for arm in ("lora", "lora_all"):
                arms[f"{arm}_over_full"] = {
                    "trainable_parameters": arms[arm]["parameters"]["trainable"] / arms["full"]["parameters"]["trainable"],
                    "step_time": arms[arm]["median_step_s"] / arms["full"]["median_step_s"],
                    "peak_rss": arms[arm]["peak_rss_mb"] / arms["full"]["peak_rss_mb"]}
            report[workload] = arms
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    app.run(main)
