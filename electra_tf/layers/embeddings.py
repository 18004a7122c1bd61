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
        self.check_ids(token_ids)
        tokens = self.token_embedding(token_ids)
        return self.combine(tokens + self.position_embedding(tokens), segment_ids, training)

    def check_ids(self, token_ids) -> None:
        """Refuses sequences longer than the position table and ids outside the vocabulary."""
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

    def combine(self, word_and_position, segment_ids, training=None):
        """Adds the segment embeddings to word + position embeddings [B, L, E], then LayerNorm and dropout."""
        x = word_and_position + self.segment_embedding(segment_ids)
        return self.dropout_layer(self.layer_norm(x), training=training)

    @property
    def word_embeddings(self) -> keras.Variable:
        """The [vocab_size, embedding_size] table the generator's output layer is tied to."""
        return self.token_embedding.embeddings

    @property
    def position_table(self) -> keras.Variable:
        """The [max_position_embeddings, embedding_size] table."""
        return self.position_embedding.position_embeddings

    def standalone_weights(self) -> list:
        """The weights (`get_weights` order) of a plain `ElectraEmbeddings` that computes what this layer does."""
        return self.get_weights()

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


@keras.saving.register_keras_serializable(package="electra_tf")
class DisentangledEmbeddings(keras.layers.Layer):
    """The discriminator's embeddings under gradient-disentangled embedding sharing (GDES, He et al. 2021,
    DeBERTa-v3): `E_D = stop_gradient(E_G) + E_delta` for the word and position tables.

    `E_G` are the tables of the `shared` embeddings (the generator's) and `E_delta` this layer's own, initialised
    to zero, so training starts exactly as tied sharing. The masked-LM loss alone updates `E_G` and the
    replaced-token-detection loss only `E_delta`: the two objectives no longer pull one table in opposite
    directions (the "tug-of-war"). The segment table and the LayerNorm stay shared, as in tied ELECTRA. A
    model directory or Hugging Face export holds `E_G + E_delta` as a plain discriminator's tables
    (`standalone_weights`).

    Args:
        shared: `ElectraEmbeddings`. The generator's embeddings.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Example:
    ```python
    import numpy as np
    shared = ElectraEmbeddings(vocab_size=30, embedding_size=8)
    layer = DisentangledEmbeddings(shared)
    ids, segments = np.array([[2, 5, 3]]), np.zeros((1, 3), "int32")
    np.testing.assert_allclose(layer(ids, segments), shared(ids, segments), atol=1e-6)  # deltas start at zero
    ```

    References:
        - [He et al., 2021](https://arxiv.org/abs/2111.09543)
    """

    def __init__(self, shared: ElectraEmbeddings, **kwargs):
        super().__init__(**kwargs)
        self.shared = shared
        self.vocab_size = shared.vocab_size
        self.embedding_size = shared.embedding_size
        self.max_position_embeddings = shared.max_position_embeddings

    def build(self, token_ids_shape, segment_ids_shape=None):
        if not self.shared.built:
            self.shared.build(token_ids_shape)
        self.word_delta = self.add_weight(shape=(self.vocab_size, self.embedding_size), initializer="zeros",
                                          name="word_delta")
        self.position_delta = self.add_weight(shape=(self.max_position_embeddings, self.embedding_size),
                                              initializer="zeros", name="position_delta")
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        shared = self.shared
        shared.check_ids(token_ids)
        words = (tf.gather(tf.stop_gradient(tf.convert_to_tensor(shared.word_embeddings)), token_ids)
                 + tf.gather(tf.convert_to_tensor(self.word_delta), token_ids))
        length = tf.shape(token_ids)[1]
        positions = (tf.stop_gradient(tf.convert_to_tensor(shared.position_table)[:length])
                     + tf.convert_to_tensor(self.position_delta)[:length])
        return shared.combine(tf.cast(words + positions[None], self.compute_dtype), segment_ids, training)

    def standalone_weights(self) -> list:
        merged = {id(self.shared.word_embeddings): self.shared.word_embeddings.numpy() + self.word_delta.numpy(),
                  id(self.shared.position_table): self.shared.position_table.numpy() + self.position_delta.numpy()}
        return [merged[id(variable)] if id(variable) in merged else variable.numpy()
                for variable in self.shared.weights]

    def get_config(self):
        config = super().get_config()
        config["shared"] = keras.layers.serialize(self.shared)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**dict(config, shared=keras.layers.deserialize(config["shared"])))
