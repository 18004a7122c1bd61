"""keras-hub `ElectraBackbone` <-> electra_tf encoder.

keras-hub's backbone is the same architecture built from the same `TransformerEncoder` blocks, so weights copy
layer by layer. Two differences: its `pooled_output` (a tanh Dense on [CLS]) is not part of ELECTRA and is
randomly initialised in the presets, so it is dropped (and left random on the way back); and it uses the tanh
approximation of GELU where ELECTRA uses the exact erf GELU, so outputs differ slightly (about 1e-3) after
conversion — the weights are the same.
"""

from __future__ import annotations

import keras_hub

from electra_tf.config import ElectraConfig
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.models.backbone import ElectraBackbone


def _pairs(encoder: ElectraEncoder, backbone: keras_hub.models.ElectraBackbone) -> list[tuple]:
    """(our layer, keras-hub layer) for every layer holding weights, the pooler excepted."""
    embeddings = encoder.embeddings
    pairs = [(embeddings.token_embedding, backbone.token_embedding),
             (embeddings.position_embedding, backbone.position_embedding),
             (embeddings.segment_embedding, backbone.segment_embedding),
             (embeddings.layer_norm, backbone.embeddings_layer_norm)]
    if encoder.embeddings_projection is not None:
        pairs.append((encoder.embeddings_projection, backbone.embeddings_projection))
    return pairs + list(zip(encoder.transformer_layers, backbone.transformer_layers))


def from_keras_hub(backbone: keras_hub.models.ElectraBackbone, **config_overrides) -> ElectraBackbone:
    """Our backbone with keras-hub's weights; its config from keras-hub's (special ids etc. from
    `config_overrides`)."""
    config = ElectraConfig(
        vocab_size=backbone.vocab_size, embedding_size=backbone.embedding_dim, hidden_size=backbone.hidden_dim,
        num_hidden_layers=backbone.num_layers, num_attention_heads=backbone.num_heads,
        intermediate_size=backbone.intermediate_dim, hidden_dropout_prob=backbone.dropout,
        attention_probs_dropout_prob=backbone.dropout, max_position_embeddings=backbone.max_sequence_length,
        type_vocab_size=backbone.num_segments, **config_overrides)
    ours = ElectraBackbone(config)
    for layer, theirs in _pairs(ours.encoder, backbone):
        layer.set_weights(theirs.get_weights())
    return ours


def to_keras_hub(encoder: ElectraEncoder) -> keras_hub.models.ElectraBackbone:
    """A keras-hub backbone with our encoder's weights (its extra `pooled_dense` stays random)."""
    embeddings = encoder.embeddings
    backbone = keras_hub.models.ElectraBackbone(
        vocab_size=embeddings.vocab_size, num_layers=encoder.num_layers, num_heads=encoder.num_heads,
        hidden_dim=encoder.hidden_size, embedding_dim=embeddings.embedding_size,
        intermediate_dim=encoder.intermediate_size, dropout=encoder.dropout,
        max_sequence_length=embeddings.max_position_embeddings, num_segments=embeddings.type_vocab_size)
    for ours, theirs in _pairs(encoder, backbone):
        theirs.set_weights(ours.get_weights())
    return backbone
