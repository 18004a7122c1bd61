"""`ElectraEmbeddings`: the token, position and segment embeddings the generator and discriminator share."""

from __future__ import annotations

import keras
import keras_hub
import tensorflow as tf

from electra_tf.layers.dropout import PhiloxDropout


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraEmbeddings(keras.layers.Layer):
    """Word + position + token-type embeddings, then LayerNorm and dropout.

    In ELECTRA one instance of this layer is used by both the generator and the discriminator, so the
    word, position and token-type tables *and* the LayerNorm are the same variables in both towers
    (the original's `electra/embeddings/*` under `AUTO_REUSE`). The projection to each tower's hidden
    size is not part of this layer: each encoder owns its own.

    Args:
        vocab_size: int. Number of WordPiece tokens.
        embedding_size: int. E, the width of every table.
        max_position_embeddings: int. Longest sequence the position table covers. Defaults to `512`.
        type_vocab_size: int. Number of segments. Defaults to `2`.
        dropout: float. Dropout rate after the LayerNorm. Defaults to `0.1`.
        layer_norm_epsilon: float. LayerNorm epsilon. Defaults to `1e-12`.
        initializer_range: float. Stddev of the truncated-normal initializer. Defaults to `0.02`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Example:
    ```python
    import numpy as np
    layer = ElectraEmbeddings(vocab_size=30, embedding_size=8)
    out = layer(np.array([[2, 5, 3, 0]]), np.array([[0, 0, 1, 0]]))
    assert tuple(out.shape) == (1, 4, 8)
    ```
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        dropout: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

        def initializer():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        # Names follow keras-hub's ElectraBackbone, so its weights map one to one.
        self.token_embedding = keras.layers.Embedding(
            vocab_size, embedding_size, embeddings_initializer=initializer(),
            dtype=self.dtype_policy, name="token_embedding")
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            max_position_embeddings, initializer=initializer(), dtype=self.dtype_policy,
            name="position_embedding")
        self.segment_embedding = keras.layers.Embedding(
            type_vocab_size, embedding_size, embeddings_initializer=initializer(),
            dtype=self.dtype_policy, name="segment_embedding")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="embeddings_layer_norm")
        self.dropout_layer = PhiloxDropout(dropout, dtype=self.dtype_policy, name="embeddings_dropout")

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.position_embedding.build((None, None, self.embedding_size))
        self.segment_embedding.build(token_ids_shape)
        self.layer_norm.build((None, None, self.embedding_size))
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        """Embeds `token_ids` and `segment_ids`, both [batch_size, sequence_length] ints.

        Returns:
            A float tensor [batch_size, sequence_length, embedding_size].
        """
        sequence_length = token_ids.shape[1]
        if sequence_length is not None and sequence_length > self.max_position_embeddings:
            raise ValueError(
                f"Sequence length {sequence_length} exceeds max_position_embeddings "
                f"({self.max_position_embeddings}): truncate the input or use a config with more positions.")
        # A CPU lookup fails on an out-of-range id but a GPU one returns zeros: check it ourselves
        # (XLA drops the assertion; compiled steps rely on the data pipeline's vocabulary check).
        tf.debugging.assert_less(
            token_ids, tf.cast(self.vocab_size, token_ids.dtype),
            message=f"token id >= vocab_size ({self.vocab_size}): the vocabulary does not match the model")
        tokens = self.token_embedding(token_ids)
        x = tokens + self.position_embedding(tokens) + self.segment_embedding(segment_ids)
        return self.dropout_layer(self.layer_norm(x), training=training)

    @property
    def word_embeddings(self) -> keras.Variable:
        """The [vocab_size, embedding_size] table the generator's output layer is tied to."""
        return self.token_embedding.embeddings

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size,
            "embedding_size": self.embedding_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        })
        return config
