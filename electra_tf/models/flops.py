"""Training FLOPs of the pre-training objectives, counted by the rules of the paper's `flops_computation.py`
(google-research/electra), so that objectives are compared at equal compute rather than equal steps.

The rules: a matrix multiply of [m, n] by [n] costs 2mn; an embedding lookup is counted as a dense one-hot
multiply; the backward pass costs as much as the forward one; small per-activation costs are dropout 4 (draw,
compare, mask, rescale), LayerNorm 5, GELU 8 and softmax 5 operations. With them ELECTRA-Small's 1M steps come
to 1.29e18 FLOPs and BERT-Small's 1.45M steps to 1.42e18 (the script's numbers; the paper rounds both to 1.4e18).
"""

from __future__ import annotations

import dataclasses

from electra_tf.config import ElectraConfig, generator_config

DROPOUT_FLOPS = 4
LAYER_NORM_FLOPS = 5
ACTIVATION_FLOPS = 8
SOFTMAX_FLOPS = 5
OBJECTIVES = ("electra", "mlm")


@dataclasses.dataclass(frozen=True)
class Tower:
    """The sizes of one transformer that the count needs."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    embedding: int
    vocab: int

    @classmethod
    def of(cls, config: ElectraConfig) -> "Tower":
        return cls(config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
                   config.intermediate_size, config.embedding_size, config.vocab_size)

    def block(self, seq_len: int) -> float:
        """Forward FLOPs of one post-LN transformer block over a sequence."""
        h, s, heads, i = self.hidden, seq_len, self.heads, self.intermediate
        attention = (3 * 2 * h * h + 3 * h  # query, key, value projections and biases
                     + 2 * h * s + 2 * h * s  # scores, then the weighted sum of values
                     + (SOFTMAX_FLOPS + DROPOUT_FLOPS + 1) * s * heads  # softmax, dropout, 1/sqrt(d) scaling
                     + 2 * h * h + h + DROPOUT_FLOPS * h + h  # output projection, bias, dropout, residual
                     + LAYER_NORM_FLOPS)  # (the script's count: 5, not 5h)
        feed_forward = (2 * h * i + i + ACTIVATION_FLOPS * i  # intermediate, bias, GELU
                        + 2 * h * i + h + DROPOUT_FLOPS * h + h + LAYER_NORM_FLOPS * h)
        return (attention + feed_forward) * s

    def inputs(self, seq_len: int) -> float:
        """Forward FLOPs of the embeddings (a dense lookup), their LayerNorm and dropout, and the E -> H projection."""
        e = self.embedding
        per_token = 2 * e * self.vocab + 2 * e * (seq_len + 2) + 2 * e + (LAYER_NORM_FLOPS + DROPOUT_FLOPS) * e
        if e != self.hidden:
            per_token += 2 * self.hidden * e + self.hidden
        return per_token * seq_len

    def mlm_head(self, seq_len: int, predicted_fraction: float) -> float:
        """Forward FLOPs of the masked-LM head (dense, GELU, LayerNorm, tied softmax) on the predicted positions."""
        e, v = self.embedding, self.vocab
        per_token = (2 * self.hidden * e + e + (ACTIVATION_FLOPS + LAYER_NORM_FLOPS) * e
                     + 2 * e * v + SOFTMAX_FLOPS * v + 2 * v)
        return predicted_fraction * per_token * seq_len

    def rtd_head(self, seq_len: int) -> float:
        """Forward FLOPs of the replaced-token-detection head (dense, GELU, one logit) on every position."""
        h = self.hidden
        return (2 * h * h + h + ACTIVATION_FLOPS * h + 2 * h) * seq_len

    def encoder(self, seq_len: int) -> float:
        return self.layers * self.block(seq_len) + self.inputs(seq_len)


def pretraining_flops_per_example(config: ElectraConfig, seq_len: int, objective: str = "electra") -> float:
    """Training FLOPs (forward and backward) of one example of `seq_len` tokens.

    `electra`: the discriminator with its RTD head on every token, plus the generator (`generator_config`) with
    its MLM head on the masked fraction; `mlm`: the same encoder as a masked-LM (BERT) with its MLM head.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"Unknown objective {objective!r}; choose one of {OBJECTIVES}.")
    predicted = config.max_predictions(seq_len) / seq_len
    main = Tower.of(config)
    if objective == "mlm":
        forward = main.encoder(seq_len) + main.mlm_head(seq_len, predicted)
    else:
        generator = Tower.of(generator_config(config))
        forward = (main.encoder(seq_len) + main.rtd_head(seq_len)
                   + generator.encoder(seq_len) + generator.mlm_head(seq_len, predicted))
    return 2 * forward


def pretraining_flops(config: ElectraConfig, seq_len: int, batch_size: int, steps: float,
                      objective: str = "electra") -> float:
    """Training FLOPs of `steps` steps of `batch_size` examples."""
    return pretraining_flops_per_example(config, seq_len, objective) * batch_size * steps
