"""Layers from an `ElectraConfig`: the embeddings and the encoder every model is made of."""

from __future__ import annotations

from electra_tf.config import ElectraConfig
from electra_tf.layers.embeddings import ElectraEmbeddings
from electra_tf.layers.encoder import ElectraEncoder


def build_embeddings(config: ElectraConfig, name: str = "embeddings") -> ElectraEmbeddings:
    """The embeddings layer described by `config`."""
    return ElectraEmbeddings(
        vocab_size=config.vocab_size,
        embedding_size=config.embedding_size,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        dropout=config.hidden_dropout_prob,
        layer_norm_epsilon=config.layer_norm_eps,
        initializer_range=config.initializer_range,
        name=name,
    )


def build_encoder(config: ElectraConfig, embeddings: ElectraEmbeddings | None = None,
                  name: str = "encoder", pack_in_training: bool = True) -> ElectraEncoder:
    """An encoder of `config`'s size over `embeddings` (which may be shared with another encoder; new ones by
    default). `pack_in_training`: as `ElectraEncoder` takes it (pre-training models pass False)."""
    if config.attention_probs_dropout_prob != config.hidden_dropout_prob:
        # keras-hub's TransformerEncoder has one rate for both; refuse rather than silently use one.
        raise ValueError(
            "attention_probs_dropout_prob must equal hidden_dropout_prob, got "
            f"{config.attention_probs_dropout_prob} and {config.hidden_dropout_prob}.")
    return ElectraEncoder(
        embeddings if embeddings is not None else build_embeddings(config),
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        dropout=config.hidden_dropout_prob,
        layer_norm_epsilon=config.layer_norm_eps,
        initializer_range=config.initializer_range,
        pack_in_training=pack_in_training,
        name=name,
    )
