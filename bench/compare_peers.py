"""electra_tf against Hugging Face transformers (PyTorch), side by side on the same shapes, threads and data.

Each workload runs in a fresh child process per framework (TensorFlow and PyTorch never share a process, so
neither's thread pools or allocator affect the other), the frameworks taking turns for `--reps` rounds; the
parent prints one JSON object: per workload and framework the median over rounds, and `ratio` = electra_tf's
throughput over Hugging Face's (above 1: electra_tf is faster; for latency, Hugging Face's ms over ours).

Workloads (random weights of the `--config` preset with `--vocab_size` rows of embeddings, by default the 30,522 of
ELECTRA's released vocabulary; raw text is tokenized with the bundled 8000-token vocabulary, whose ids index the first
rows, for both frameworks):
  pretrain, pretrain_bf16   one ELECTRA pre-training step (15% masked, generator of the paper's size, Gumbel
                            samples, discriminator, loss = MLM + 50 x RTD, AdamW), batch x seq_len tokens;
                            Hugging Face: ElectraForMaskedLM + ElectraForPreTraining sharing embeddings, the
                            usual loop (the generator's head runs on every position, as HF's model does);
                            bf16: Keras mixed_bfloat16 / torch.autocast(bfloat16).
  pretrain_released         the same with the released Small++ generator (as wide as the discriminator).
  finetune                  one sequence-classification training step at fixed length (batch x seq_len); both
                            clip gradients to global norm 1 (ELECTRA's recipe; the `Trainer` default
                            `max_grad_norm=1.0` that `run_glue.py` trains with), as in sst2_epoch.
  sst2_epoch                fine-tuning over the first `--sst2_examples` SST-2 train sentences, batch 32:
                            electra_tf pads each batch to its longest (rounded up to 16) and its encoder
                            skips that padding (packed tokens, as everywhere outside XLA but pre-training);
                            Hugging Face as `run_glue.py`'s defaults do (every example padded to 128).
  inference                 encoder + classification head, forward only, batch x seq_len.
  serving_batch1, serving_batch32   SST-2 dev sentences as raw text: electra_tf's exported SavedModel
                            (`serving_default`: tokenization, model, softmax in the graph) against a Hugging
                            Face pipeline-style call (fast tokenizer, pad to longest, inference mode, softmax);
                            p50 latency of single sentences, examples/s of batches of 32; the requests are
                            sent once untimed first (warm caches; for XLA, every shape compiled), ours after
                            the SavedModel's warm-up request, which TF Serving answers first (it decides
                            the weights' layout oneDNN keeps: `electra_tf.export.serving.FrozenForward`).
  serving_batch1_xla, serving_batch32_xla   the same, exported with `jit_compile` (XLA forward pass).
  predict_dataset           all of SST-2 dev: electra_tf's task prediction (length-sorted, padded to each
                            batch's longest, batch 32) against `run_glue.py`'s evaluation defaults (padded to
                            128, batch 8).

Every child also measures the float32 matmul peak of this machine in its framework (`peak_gflops`: the best
of 2048x2048 matmuls); pre-training entries report model FLOPs/s and MFU against the TensorFlow peak, with the
model FLOPs counted by `bench/mfu.py` (matmuls only, 3x the forward: forward + backward; embeddings as
lookups; both towers and heads; generator head on the masked slots for ours, on every position for Hugging
Face's, each counted as run).

Setup (a separate environment: the package's requirements never include torch or transformers):
  python3 -m venv .bench-venv && .bench-venv/bin/pip install -r requirements.txt -e . \
      torch==2.13.0 transformers==5.24.0
Usage:
  .bench-venv/bin/python bench/compare_peers.py > bench/results/compare_peers.json
  .bench-venv/bin/python bench/compare_peers.py --config=tiny --reps=1 --steps=2 --sst2_examples=64   # check
On a GPU machine both frameworks use the GPU (TensorFlow whenever it sees one: install tensorflow[and-cuda], see
BUILD.md; PyTorch's PyPI wheel has CUDA), with TF32 float32 matmuls for both; steps wait for the device:
  .bench-venv/bin/python bench/compare_peers.py --jit_compile --batch_size=128 \
      --workloads=pretrain,pretrain_bf16,pretrain_released,finetune,inference
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from common import as_if_fine_tuned  # bench/common.py (the script's folder is on sys.path)
from mfu import training_flops_per_token  # bench/mfu.py (the script's folder is on sys.path)

REPO = pathlib.Path(__file__).resolve().parents[1]
GLUE = REPO.parent / "shared" / "data" / "glue"
WORKLOADS = ("pretrain", "pretrain_bf16", "pretrain_released", "finetune", "sst2_epoch", "inference",
             "serving_batch1", "serving_batch32", "serving_batch1_xla", "serving_batch32_xla", "predict_dataset")
LATENCY = {"serving_batch1", "serving_batch1_xla"}  # lower is better; the others are throughputs

FLAGS = flags.FLAGS
flags.DEFINE_list("workloads", list(WORKLOADS), "Workloads to run.")
flags.DEFINE_string("config", "small", "Model preset (electra_tf's; Hugging Face gets the same shapes).")
flags.DEFINE_integer("batch_size", 32, "Examples per step for the fixed-length workloads.")
flags.DEFINE_integer("seq_len", 128, "Tokens per example for the fixed-length workloads.")
flags.DEFINE_integer("steps", 6, "Timed steps (or batches) per child, after 2 untimed ones.")
flags.DEFINE_integer("reps", 2, "Rounds of every workload, the frameworks taking turns.")
flags.DEFINE_integer("threads", 2, "Intra-op threads for both frameworks.")
flags.DEFINE_bool("jit_compile", False, "electra_tf's pre-training, fine-tuning and inference steps compiled with "
                  "XLA (what a GPU run uses).")
flags.DEFINE_integer("vocab_size", 30522, "Vocabulary rows of both models (the generator's output layer is this "
                     "wide); by default ELECTRA's (BERT's uncased WordPiece), as the paper trained and released.")
flags.DEFINE_integer("sst2_examples", 1024, "SST-2 train sentences in the sst2_epoch workload.")
flags.DEFINE_integer("requests", 100, "Single-sentence requests in serving_batch1.")
flags.DEFINE_string("child", None, "Internal: run one workload of one framework ('ours' or 'hf').")
flags.DEFINE_string("workload", None, "Internal: the child's workload.")


# --- What both frameworks share ---
def sst2(split: str, limit: int | None = None) -> tuple[list[str], list[int]]:
    rows = [line.split("\t") for line in (GLUE / "SST-2" / f"{split}.tsv").read_text().splitlines()[1:]]
    rows = rows[:limit] if limit else rows
    return [row[0] for row in rows], [int(row[1]) for row in rows]


def shapes():
    """The discriminator and generator shapes of `--config`, from electra_tf's config (plain numbers)."""
    sys.path.insert(0, str(REPO))
    from electra_tf.config import ElectraConfig, generator_config
    from electra_tf.text import SAMPLE_VOCAB_FILE

    preset = "small++" if FLAGS.workload == "pretrain_released" else FLAGS.config
    config = ElectraConfig.from_preset(preset, vocab_size=FLAGS.vocab_size)
    return config, generator_config(config), SAMPLE_VOCAB_FILE


def timed(step, count: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        step()
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return seconds


# --- electra_tf ---
def ours(workload: str) -> dict:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from electra_tf.models.classifier import ElectraClassifier
    from electra_tf.models.pretrainer import ElectraPretrainer
    from electra_tf.text import ElectraPreprocessor, WordPieceTokenizer
    from electra_tf.training.optimization import create_optimizer
    from common import matmul_peak_flops

    config, generator, vocab = shapes()
    keras.utils.set_random_seed(0)
    b, length = FLAGS.batch_size, FLAGS.seq_len
    rng = np.random.default_rng(0)
    ids = rng.integers(104, config.vocab_size, size=(b, length)).astype("int32")
    ids[:, 0], ids[:, -1] = config.cls_token_id, config.sep_token_id
    batch = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    result = {"peak_gflops": matmul_peak_flops("float32") / 1e9}

    if workload.startswith("pretrain"):
        if workload == "pretrain_bf16":
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
        model = ElectraPretrainer(config)
        model.compile(optimizer=create_optimizer(1e-4, 1000, 10), jit_compile=FLAGS.jit_compile)
        data = iter(tf.data.Dataset.from_tensors(batch).repeat())
        model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
        seconds = timed(lambda: float(model.train_function(data)["loss"]), FLAGS.steps)
        slots = config.max_predictions(length)  # the masked slots the generator head runs on
        flops = training_flops_per_token(config, generator, length, slots / length)
        return {**result, **per_step(seconds, b * length), "flops_per_token": flops}
    if workload in ("finetune", "inference"):
        model = ElectraClassifier(config, num_labels=2)
        model.compile(optimizer=create_optimizer(1e-4, 1000, 10),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=FLAGS.jit_compile)
        labels = np.zeros(b, "int32")
        if workload == "finetune":
            model.train_on_batch(batch, labels)
            seconds = timed(lambda: model.train_on_batch(batch, labels), FLAGS.steps)
        else:
            forward = tf.function(lambda x: model(x, training=False), jit_compile=FLAGS.jit_compile)
            seconds = timed(lambda: forward(batch).numpy(), FLAGS.steps)
        return {**result, **per_step(seconds, b * length)}
    tokenizer = WordPieceTokenizer(vocab)
    if workload == "sst2_epoch":
        from electra_tf.data.glue import GlueSplit, glue_dataset

        texts, labels = sst2("train", FLAGS.sst2_examples)
        model = ElectraClassifier(config, num_labels=2, preprocessor=ElectraPreprocessor(tokenizer, 128))
        model.compile(optimizer=create_optimizer(1e-4, 1000, 10),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        dataset = glue_dataset(GlueSplit((texts,), np.array(labels, "int32")), model.preprocessor, 32,
                               shuffle=True, seed=0)
        model.fit(dataset.take(2), verbose=0)  # traces the step (more shapes trace as they come)
        start = time.perf_counter()
        model.fit(dataset, verbose=0)
        return {**result, "examples_per_s": len(texts) / (time.perf_counter() - start)}
    texts, labels = sst2("dev")
    model = ElectraClassifier(config, label_names=["negative", "positive"],
                              preprocessor=ElectraPreprocessor(tokenizer, 128))
    if workload == "predict_dataset":
        from electra_tf.data.glue import GlueSplit
        from electra_tf.tasks.classification import TextClassificationTask

        task = TextClassificationTask()
        task.predict(model, GlueSplit((texts[:64],)), 32)
        start = time.perf_counter()
        task.predict(model, GlueSplit((texts,)), 32)
        return {**result, "examples_per_s": len(texts) / (time.perf_counter() - start)}
    from electra_tf.export.serving import WARMUP_TEXTS, export_model

    model(list(WARMUP_TEXTS))  # builds the weights
    as_if_fine_tuned(model)
    with tempfile.TemporaryDirectory() as scratch:
        exported = export_model(model, pathlib.Path(scratch) / "sst2", jit_compile=workload.endswith("_xla"))
        serve = tf.saved_model.load(str(exported)).signatures["serving_default"]
        serve(text=tf.constant(WARMUP_TEXTS))  # what TF Serving answers first: the SavedModel's warm-up request
        return {**result, **serve_timings(lambda chunk: serve(text=tf.constant(chunk))["probabilities"].numpy(),
                                          texts)}


# --- Hugging Face ---
def hf(workload: str) -> dict:
    import torch
    from transformers import (ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining,
                              ElectraForSequenceClassification, ElectraTokenizerFast)

    torch.set_num_threads(FLAGS.threads)
    torch.manual_seed(0)
    config, generator, vocab = shapes()

    def hf_config(c):
        return ElectraConfig(vocab_size=c.vocab_size, embedding_size=c.embedding_size, hidden_size=c.hidden_size,
                             num_hidden_layers=c.num_hidden_layers, num_attention_heads=c.num_attention_heads,
                             intermediate_size=c.intermediate_size, max_position_embeddings=512, num_labels=2)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True  # TensorFlow's default on GPUs: the same float32 matmuls
    sync = device_sync(torch, device)

    def synced(step):
        return lambda: (step(), sync())

    b, length = FLAGS.batch_size, FLAGS.seq_len
    ids = torch.randint(104, config.vocab_size, (b, length), device=device)
    ids[:, 0], ids[:, -1] = config.cls_token_id, config.sep_token_id
    result = {"peak_gflops": torch_peak_gflops(torch, device, sync)}
    if workload.startswith("pretrain"):
        gen = ElectraForMaskedLM(hf_config(generator)).to(device)
        disc = ElectraForPreTraining(hf_config(config)).to(device)
        gen.electra.embeddings = disc.electra.embeddings  # shared embeddings, as ELECTRA trains them
        params = list({id(p): p for p in [*gen.parameters(), *disc.parameters()]}.values())
        optimizer = torch.optim.AdamW(params, lr=1e-4)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=workload == "pretrain_bf16")

        def step():
            masked = torch.rand(ids.shape, device=device) < config.mask_prob
            generator_input = ids.masked_fill(masked, config.mask_token_id)
            with autocast:
                mlm = gen(input_ids=generator_input, labels=ids.masked_fill(~masked, -100))
                logits = mlm.logits[masked].float()
                gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp_min(1e-9)).clamp_min(1e-9))
                sampled = (logits.detach() + gumbel).argmax(-1)
                corrupted = ids.clone()
                corrupted[masked] = sampled
                rtd = disc(input_ids=corrupted, labels=(corrupted != ids).long())
                loss = mlm.loss + 50 * rtd.loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()

        seconds = timed(synced(step), FLAGS.steps)
        return {**result, **per_step(seconds, b * length),
                "flops_per_token": training_flops_per_token(config, generator, length, 1.0)}
    model = ElectraForSequenceClassification(hf_config(config)).to(device)
    if workload == "finetune":
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        labels = torch.zeros(b, dtype=torch.long, device=device)

        def step():
            loss = model(input_ids=ids, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

        return {**result, **per_step(timed(synced(step), FLAGS.steps), b * length)}
    if workload == "inference":
        model.eval()

        def forward():
            with torch.inference_mode():
                model(input_ids=ids)

        return {**result, **per_step(timed(synced(forward), FLAGS.steps), b * length)}
    tokenizer = ElectraTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    if workload == "sst2_epoch":
        texts, labels = sst2("train", FLAGS.sst2_examples)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=128,
                            return_tensors="pt").to(device)
        targets = torch.tensor(labels, device=device)
        order = torch.randperm(len(texts))
        start = time.perf_counter()
        for first in range(0, len(texts), 32):
            rows = order[first:first + 32]
            loss = model(input_ids=encoded["input_ids"][rows], attention_mask=encoded["attention_mask"][rows],
                         labels=targets[rows]).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        sync()
        return {**result, "examples_per_s": len(texts) / (time.perf_counter() - start)}
    texts, _ = sst2("dev")
    model.eval()
    if workload == "predict_dataset":
        start = time.perf_counter()
        encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=128,
                            return_tensors="pt").to(device)
        with torch.inference_mode():
            for first in range(0, len(texts), 8):
                model(input_ids=encoded["input_ids"][first:first + 8],
                      attention_mask=encoded["attention_mask"][first:first + 8])
        sync()
        return {**result, "examples_per_s": len(texts) / (time.perf_counter() - start)}

    def pipeline(chunk):
        with torch.inference_mode():
            encoded = tokenizer(chunk, padding="longest", truncation=True, max_length=128,
                                return_tensors="pt").to(device)
            return torch.softmax(model(**encoded).logits, -1).cpu().numpy()

    return {**result, **serve_timings(pipeline, texts)}


def device_sync(torch, device):
    """Waits until the device has finished the work queued on it (CUDA runs asynchronously); no-op on a CPU."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def torch_peak_gflops(torch, device, sync) -> float:
    """As `common.matmul_peak_flops` measures TensorFlow's: 2048 on a CPU, 8192 on a GPU (TF32 there, as set
    in `hf`)."""
    size = 8192 if device.type == "cuda" else 2048
    a = torch.randn(size, size, device=device)
    best = min(timed(lambda: (torch.matmul(a, a), sync()), 5))
    return 2 * size ** 3 / best / 1e9


# --- Measurements ---
def per_step(seconds: list[float], tokens: int) -> dict:
    median = statistics.median(seconds)
    return {"tokens_per_s": tokens / median, "step_ms": 1000 * median}


def serve_timings(call, texts: list[str]) -> dict:
    if FLAGS.workload.startswith("serving_batch1"):
        requests = [[text] for text in texts[:FLAGS.requests]]
    else:
        requests = [texts[i:i + 32] for i in range(0, len(texts) - 31, 32)]
    for request in requests:  # untimed: warm caches, compile every shape
        call(request)
    timed_requests = iter(requests)
    seconds = timed(lambda: call(next(timed_requests)), len(requests), warmup=0)
    if FLAGS.workload.startswith("serving_batch1"):
        return {"p50_ms": 1000 * statistics.median(seconds)}
    return {"examples_per_s": 32 / statistics.median(seconds)}


# --- The parent ---
def run_child(framework: str, workload: str) -> dict:
    command = [sys.executable, __file__, f"--child={framework}", f"--workload={workload}",
               *(f"--{name}={FLAGS[name].value}" for name in ("config", "vocab_size", "batch_size", "seq_len", "steps",
                                                               "threads", "sst2_examples", "requests",
                                                               "jit_compile"))]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode:
        return {"error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    del argv
    if FLAGS.child:
        print(json.dumps((ours if FLAGS.child == "ours" else hf)(FLAGS.workload)))
        return
    results = {}
    for workload in FLAGS.workloads:
        rounds = {"electra_tf": [], "huggingface": []}
        for _ in range(FLAGS.reps):
            rounds["electra_tf"].append(run_child("ours", workload))
            rounds["huggingface"].append(run_child("hf", workload))
            print(workload, *(json.dumps(rounds[framework][-1])[:200] if "error" not in rounds[framework][-1]
                              else rounds[framework][-1]["error"] for framework in rounds), file=sys.stderr)
        results[workload] = summarize(workload, rounds)
    import torch
    import transformers

    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": machine(), "threads": FLAGS.threads,
                      "config": FLAGS.config, "vocab_size": FLAGS.vocab_size, "batch_size": FLAGS.batch_size,
                      "seq_len": FLAGS.seq_len, "sst2_examples": FLAGS.sst2_examples, "reps": FLAGS.reps,
                      "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
                      "workloads": results}, indent=2))


def summarize(workload: str, rounds: dict[str, list[dict]]) -> dict:
    first_good = next((run for runs in rounds.values() for run in runs if "error" not in run), {})
    key = "p50_ms" if workload in LATENCY else ("tokens_per_s" if "tokens_per_s" in first_good else "examples_per_s")
    summary = {}
    for framework, runs in rounds.items():
        good = [run for run in runs if "error" not in run]
        if not good:
            summary[framework] = runs[0]
            continue
        summary[framework] = {name: statistics.median(run[name] for run in good) for name in good[0]
                              if isinstance(good[0][name], (int, float))}
        summary[framework]["rounds"] = [run[key] for run in good]
        summary[framework]["peak_gflops_rounds"] = [run["peak_gflops"] for run in good]  # the host's speed each time
        if "flops_per_token" in summary[framework]:
            flops = summary[framework]["flops_per_token"] * summary[framework]["tokens_per_s"]
            summary[framework]["model_gflops"] = flops / 1e9
            summary[framework]["mfu_vs_tf_peak"] = flops / 1e9 / summary["electra_tf"]["peak_gflops"] \
                if "electra_tf" in summary and "peak_gflops" in summary["electra_tf"] else None
    if all(key in summary[f] for f in summary):
        ours_value, theirs = summary["electra_tf"][key], summary["huggingface"][key]
        summary["ratio"] = theirs / ours_value if workload in LATENCY else ours_value / theirs
        summary["measure"] = key
    return summary


def machine() -> str:
    sys.path.insert(0, str(REPO / "bench"))
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    gpus = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("nvidia-smi") else ""
    return f"{cpu} ({os.cpu_count()} logical CPUs)" + (f"; {gpus}" if gpus else "")


if __name__ == "__main__":
    app.run(main)
