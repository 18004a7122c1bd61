"""Pre-training heads: the generator's tied masked-LM head and the discriminator's replaced-token head."""

from __future__ import annotations

import keras
from keras import ops

from electra_tf.layers.activations import gelu


@keras.saving.register_keras_serializable(package="electra_tf")
class GeneratorHead(keras.layers.Layer):
    """Masked-LM head: Dense(E, GELU) -> LayerNorm -> logits against the tied word embeddings + bias.

    The output projection is the shared word-embedding table, passed to `call`, so the head owns only
    `dense`, `layer_norm` and `output_bias` (the original's `generator_predictions/*`).

    Args:
        embedding_size: int. E, the width of the word-embedding table.
        vocab_size: int. V, the size of the output bias.
        layer_norm_epsilon: float. Defaults to `1e-12`.
        initializer_range: float. Stddev of the dense kernel's truncated normal. Defaults to `0.02`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Example:
    ```python
    import numpy as np
    head = GeneratorHead(embedding_size=8, vocab_size=30)
    logits = head(np.random.rand(2, 3, 16).astype("float32"), np.random.rand(30, 8).astype("float32"))
    assert tuple(logits.shape) == (2, 3, 30)
    ```
    """

    def __init__(self, embedding_size: int, vocab_size: int, layer_norm_epsilon: float = 1e-12,
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.embedding_size = embedding_size
        self.vocab_size = vocab_size
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            embedding_size, activation=gelu,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="dense")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm")

    def build(self, hidden_shape, word_embeddings_shape=None):
        self.dense.build(hidden_shape)
        self.layer_norm.build((*hidden_shape[:-1], self.embedding_size))
        self.output_bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="output_bias")
        self.built = True

    def call(self, hidden, word_embeddings):
        """Logits [..., V] for hidden states [..., H] given the tied [V, E] word-embedding table."""
        x = self.layer_norm(self.dense(hidden))
        logits = ops.matmul(x, ops.transpose(ops.cast(word_embeddings, x.dtype)))
        return logits + ops.cast(self.output_bias, logits.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "embedding_size": self.embedding_size,
            "vocab_size": self.vocab_size,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        })
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class DiscriminatorHead(keras.layers.Layer):
    """Replaced-token-detection head: Dense(H, GELU) -> Dense(1), one logit per token.

    As in the original, the hidden Dense uses the encoder's truncated-normal initializer and the output
    Dense TF1's default (Glorot uniform).

    Args:
        hidden_size: int. H.
        initializer_range: float. Stddev of the hidden Dense's truncated normal. Defaults to `0.02`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Example:
    ```python
    import numpy as np
    head = DiscriminatorHead(hidden_size=16)
    assert tuple(head(np.random.rand(2, 5, 16).astype("float32")).shape) == (2, 5)
    ```
    """

    def __init__(self, hidden_size: int, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            hidden_size, activation=gelu,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="dense")
        self.dense_prediction = keras.layers.Dense(1, dtype=self.dtype_policy, name="dense_prediction")

    def build(self, hidden_shape):
        self.dense.build(hidden_shape)
        self.dense_prediction.build((*hidden_shape[:-1], self.hidden_size))
        self.built = True

    def call(self, hidden):
        """Logits [batch_size, sequence_length] for hidden states [batch_size, sequence_length, H]."""
        return ops.squeeze(self.dense_prediction(self.dense(hidden)), axis=-1)

    def compute_output_shape(self, hidden_shape):
        return tuple(hidden_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_size": self.hidden_size, "initializer_range": self.initializer_range})
        return config
