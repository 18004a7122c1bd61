"""The attention core compiled by XLA against the same core as TensorFlow ops, in float32 and bfloat16.

`electra_tf.layers.attention.attention` runs the core (scores, masked softmax, dropout, weighted sum) as one XLA
program (`fused_attention_core`) on machines with GPUs and as TensorFlow's ops (`attention_core`) on others
(`xla_core_pays_off`). This measures both in one process, taking turns call by call, at ELECTRA-Small's shapes
(`--config`, batch 32 x `--seq_len`): the core's forward pass and its forward and backward pass (dropout on), in
float32 and in bfloat16; and, as a third variant, `tf_einsum`: the TensorFlow-ops core as it was written before
(`tf.einsum` on the [batch, positions, heads, head_size] layout instead of batch matmuls on heads-first operands).
The pre-training step with either core: `bench/pretrain_step.py --variants=float32,float32_xla_attention,
mixed_bfloat16,mixed_bfloat16_xla_attention`.

Per workload: median milliseconds per call of each variant, `speedup` = xla / tf_ops and `einsum_speedup` =
tf_einsum / tf_ops (above 1: the package's TensorFlow-ops core is faster).

Usage:
  python bench/attention_core.py > bench/results/attention_core.json   # about a minute on 2 CPU cores
  python bench/attention_core.py --config=tiny --calls=3                # quick check
"""

from __future__ import annotations

import json
import statistics

from absl import app, flags
import tensorflow as tf

from common import device_name, time_in_turns  # bench/common.py (on sys.path)
from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.layers import attention as attention_module
from electra_tf.layers.dropout import dropout

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_integer("batch_size", 32, "Examples per call.")
flags.DEFINE_integer("seq_len", 128, "Tokens per example.")
flags.DEFINE_integer("calls", 20, "Timed calls per workload and variant.", lower_bound=3)
flags.DEFINE_integer("threads", 2, "Intra-op threads.")


def einsum_core(query, key, value, mask, scale, rate, seed):
    """`attention_core` as it was before its batch matmuls took heads-first operands."""
    scores = tf.einsum("abcd,aecd->acbe", query * tf.cast(scale, query.dtype), key)
    mask = tf.cast(mask, tf.bool)[:, None]
    probabilities = tf.where(mask, tf.nn.softmax(tf.where(mask, scores, tf.constant(-1e9, scores.dtype))),
                             tf.zeros([], scores.dtype))
    if seed is not None:
        probabilities = dropout(probabilities, rate, seed)
    return tf.einsum("acbe,aecd->abcd", probabilities, value)


CORES = {"xla": attention_module.fused_attention_core, "tf_ops": attention_module.attention_core,
         "tf_einsum": einsum_core}


def core_call(core, dtype: str, backward: bool):
    config = ElectraConfig.from_preset(FLAGS.config)
    heads, head_size = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    shape = [FLAGS.batch_size, FLAGS.seq_len, heads, head_size]
    query, key, value, upstream = (tf.cast(tf.random.normal(shape, seed=i), dtype) for i in range(4))
    mask = tf.ones([FLAGS.batch_size, FLAGS.seq_len, FLAGS.seq_len], tf.int32)
    seed, scale = tf.constant([1, 2]), head_size ** -0.5

    @tf.function
    def call(_):
        with tf.GradientTape() as tape:
            tape.watch([query, key, value])
            context = core(query, key, value, mask, scale, 0.1, seed if backward else None)
        if not backward:
            return context
        return tf.add_n([tf.reduce_sum(tf.cast(g, tf.float32))
                         for g in tape.gradient(context, [query, key, value], output_gradients=upstream)])
    return call


def main(argv: list[str]) -> None:
    del argv
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    results = {}
    for dtype in ("float32", "bfloat16"):
        for kind in ("forward", "forward_backward"):
            calls = {name: core_call(core, dtype, kind == "forward_backward") for name, core in CORES.items()}
            seconds = time_in_turns(calls, [None] * FLAGS.calls, warmup=2)
            medians = {name: statistics.median(values) for name, values in seconds.items()}
            results[f"{kind}_{dtype}"] = {"call_ms": {name: round(1000 * value, 2) for name, value in medians.items()},
                                          "speedup": round(medians["xla"] / medians["tf_ops"], 3),
                                          "einsum_speedup": round(medians["tf_einsum"] / medians["tf_ops"], 3)}
    print(json.dumps({"benchmark": "attention_core", "device": device_name(), "config": FLAGS.config,
                      "batch_size": FLAGS.batch_size, "seq_len": FLAGS.seq_len, "workloads": results}, indent=2))


if __name__ == "__main__":
    app.run(main)
