"""Model FLOPs of an ELECTRA pre-training step, for MFU (model FLOPs utilisation): no framework imported, so
both of compare_peers.py's children (TensorFlow, PyTorch) and pretrain_step.py count the same way."""


def training_flops_per_token(config, generator, seq_len: int, head_positions: float) -> float:
    """Matmul FLOPs of one pre-training step per token, 3x the forward (forward + a backward of twice its cost,
    the usual MFU convention; the paper's `flops_computation.py`, reproduced by `electra_tf.models.flops` for
    compute budgets, counts the backward as 1x and embeddings as dense multiplies): both encoders (projections,
    attention scores and mixing, feed-forward), the embedding projection, the RTD head, and the generator's MLM
    head on `head_positions` of the positions.

    `config` and `generator` are the discriminator's and the generator's `ElectraConfig`s.
    """
    def encoder(c) -> float:
        hidden, ffn = c.hidden_size, c.intermediate_size
        per_layer = 2 * (4 * hidden * hidden + 2 * hidden * ffn) + 2 * 2 * seq_len * hidden
        projection = 2 * c.embedding_size * hidden if c.embedding_size != hidden else 0
        return c.num_hidden_layers * per_layer + projection

    rtd_head = 2 * config.hidden_size * config.hidden_size + 2 * config.hidden_size
    mlm_head = 2 * generator.hidden_size * config.embedding_size + 2 * config.embedding_size * config.vocab_size
    return 3 * (encoder(config) + encoder(generator) + rtd_head + head_positions * mlm_head)
