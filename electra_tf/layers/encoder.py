"""`ElectraEncoder`: shared embeddings -> own projection -> post-LN transformer blocks."""

from __future__ import annotations

import contextlib

import keras
import keras_hub
import tensorflow as tf

from electra_tf.layers.activations import gelu
from electra_tf.layers.attention import FusedMultiHeadAttention, attention
from electra_tf.layers.dropout import PhiloxDropout
from electra_tf.layers.einsum_dense import TFEinsumDense
from electra_tf.layers.embeddings import ElectraEmbeddings
from electra_tf.layers.fusion import unfused
from electra_tf.layers.packing import PackedTokens, packing_pays_off


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraEncoder(keras.layers.Layer):
    """The ELECTRA transformer: BERT's post-LayerNorm encoder over (possibly shared) embeddings.

    The embeddings layer is passed in, not built here, so a generator and a discriminator can hold the
    same instance. When the embedding size E differs from `hidden_size` this encoder projects E -> H with
    its own Dense layer (`embeddings_projection`), as each tower has its own in the original. The blocks
    are keras-hub `TransformerEncoder`s with exact erf GELU and LayerNorm epsilon 1e-12, which match
    the original layer for layer; their dropout layers become `PhiloxDropout`s (fast under XLA too), their
    attention projections `TFEinsumDense`s (twice as fast on CPU) and their attention
    `FusedMultiHeadAttention`s (the core compiled by XLA), see `use_fast_sublayers`. Outside XLA the blocks
    skip padding: they run on the real tokens packed into one row (`PackedTokens`, `packed_block`), the same
    outputs at real positions (to float rounding; dropout draws other masks), zeros at padding.

    Args:
        embeddings: `ElectraEmbeddings`. The embeddings layer (shared or not).
        hidden_size: int. H.
        num_layers: int. Number of transformer blocks.
        num_heads: int. Attention heads; must divide `hidden_size`.
        intermediate_size: int. Width of the feed-forward layer.
        dropout: float. Dropout on attention probabilities and on each block's outputs. Defaults to `0.1`.
        layer_norm_epsilon: float. Defaults to `1e-12`.
        initializer_range: float. Stddev of the truncated-normal initializer. Defaults to `0.02`.
        pack_in_training: bool. Skip padding in training too, not only at inference. Fine-tuning batches padded
            to their longest text are often half padding (an SST-2 fine-tuning epoch ran 2.1x faster packed);
            pre-training batches are full sequences, where packing only adds its gathers (a step 3.6% slower).
            Defaults to `True`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Example:
    ```python
    import numpy as np
    embeddings = ElectraEmbeddings(vocab_size=30, embedding_size=8)
    encoder = ElectraEncoder(embeddings, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32)
    inputs = {"token_ids": np.array([[2, 5, 3, 0]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.array([[1, 1, 1, 0]])}
    assert tuple(encoder(inputs).shape) == (1, 4, 16)
    ```
    """

    def __init__(
        self,
        embeddings: ElectraEmbeddings,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        intermediate_size: int,
        dropout: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        pack_in_training: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads}).")
        self.embeddings = embeddings
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.pack_in_training = pack_in_training

        def initializer():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        self.embeddings_projection = None
        if embeddings.embedding_size != hidden_size:
            self.embeddings_projection = keras.layers.Dense(
                hidden_size, kernel_initializer=initializer(), dtype=self.dtype_policy,
                name="embeddings_projection")
        self.transformer_layers = [
            keras_hub.layers.TransformerEncoder(
                intermediate_dim=intermediate_size, num_heads=num_heads, dropout=dropout,
                activation=gelu, layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=initializer(), dtype=self.dtype_policy,
                name=f"transformer_layer_{i}")
            for i in range(num_layers)
        ]

    def build(self, inputs_shape):
        token_shape = inputs_shape["token_ids"]
        if not self.embeddings.built:
            self.embeddings.build(token_shape)
        hidden_shape = (token_shape[0], token_shape[1], self.hidden_size)
        if self.embeddings_projection is not None:
            self.embeddings_projection.build((token_shape[0], token_shape[1], self.embeddings.embedding_size))
        for layer in self.transformer_layers:
            layer.build(hidden_shape)
            use_fast_sublayers(layer)
        self.built = True

    def call(self, inputs, training=None, first_token_only: bool = False):
        """Encodes a batch.

        Args:
            inputs: dict with `token_ids`, `segment_ids` and `padding_mask` (1 for real tokens), each
                [batch_size, sequence_length].
            training: bool. Whether dropout is active.
            first_token_only: bool. Return only each row's first ([CLS]) state, all a sequence classifier reads:
                the last block then projects keys and values for every position and computes nothing else for
                the other positions (Model Garden's `output_range=1`; ELECTRA-Small: 7% of the forward pass).

        Returns:
            `sequence_output`, a float tensor [batch_size, sequence_length, hidden_size], or with `first_token_only`
            [batch_size, hidden_size].
        """
        x = self.embeddings(inputs["token_ids"], inputs["segment_ids"], training=training)
        padding_mask = inputs["padding_mask"]
        if (not training or self.pack_in_training) and packing_pays_off():
            return self.packed_call(x, padding_mask, training, first_token_only)
        if self.embeddings_projection is not None:
            x = self.embeddings_projection(x)
        for i, layer in enumerate(self.transformer_layers):
            if first_token_only and i == self.num_layers - 1:
                return first_token_block(layer, x, padding_mask, training)
            x = layer(x, padding_mask=padding_mask, training=training)
        return x

    def packed_call(self, embedded, padding_mask, training=None, first_token_only=False):
        """`call` from the embeddings on, on the real tokens only (padding positions: zeros)."""
        tokens = PackedTokens(padding_mask, gather_gradients=bool(training))  # none in exported graphs
        x = tokens.pack(embedded)
        if self.embeddings_projection is not None:
            x = self.embeddings_projection(x)
        attention_mask = tokens.mask[:, None, :]  # [batch, target (any), source]
        for i, layer in enumerate(self.transformer_layers):
            x = packed_block(layer, x, tokens, attention_mask, training,
                             first_token_only=first_token_only and i == self.num_layers - 1)
        if first_token_only:  # a row without tokens gathered another row's token: zeros, as at padding positions
            return tf.where(tf.reduce_any(tokens.mask, axis=1)[:, None], x, tf.zeros([], x.dtype))
        return tokens.unpack_with_zero_padding(x)

    def standalone_weights(self) -> list:
        """The weights (`get_weights` order) of an encoder with plain embeddings of its own that computes what this
        one does: the same as `get_weights`, except that gradient-disentangled embeddings are merged."""
        own = self.get_weights()[len(self.embeddings.weights):]  # the embeddings' weights come first
        return [*self.embeddings.standalone_weights(), *own]

    def compute_output_shape(self, inputs_shape):
        token_shape = inputs_shape["token_ids"]
        return (token_shape[0], token_shape[1], self.hidden_size)

    def get_config(self):
        config = super().get_config()
        config.update({
            "embeddings": keras.layers.serialize(self.embeddings),
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
            "pack_in_training": self.pack_in_training,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config, embeddings=keras.layers.deserialize(config["embeddings"]))
        return cls(**config)


def packed_block(block: keras_hub.layers.TransformerEncoder, x: tf.Tensor, tokens: PackedTokens,
                 attention_mask: tf.Tensor, training=None, first_token_only: bool = False) -> tf.Tensor:
    """What the post-LayerNorm `block` computes, on packed tokens [tokens, hidden]: its own sublayers (adapters
    included) on the packed tokens, the attention core on the padded layout. With `first_token_only`, only each
    row's first token is a query: the output is [batch, hidden]."""
    self_attention = block._self_attention_layer  # keras-hub keeps its sublayers private (pinned version)

    def project(projection, rows):  # the projections' equations take a batch axis: the rows are one
        # expand_dims/squeeze, not rows[None][0]: the gradient of a slice is a StridedSliceGrad copy
        return tf.squeeze(projection(tf.expand_dims(rows, 0)), 0)

    key, value = (tokens.unpack(project(projection, x)) for projection in (self_attention._key_dense,
                                                                          self_attention._value_dense))
    if first_token_only:
        x = tf.gather(x, tokens.first_token_index)
        query = tf.expand_dims(project(self_attention._query_dense, x), 1)  # [batch, 1, heads, head_size]
    else:
        query = tokens.unpack(project(self_attention._query_dense, x))
    context = attention(query, key, value, attention_mask, self_attention._inverse_sqrt_key_dim,
                        self_attention._dropout, self_attention.dropout_seed(training))
    context = tf.squeeze(context, 1) if first_token_only else tokens.pack(context)
    return feedforward_half(block, x, project(self_attention._output_dense, context), training)


def first_token_block(block: keras_hub.layers.TransformerEncoder, x: tf.Tensor, padding_mask: tf.Tensor,
                      training=None) -> tf.Tensor:
    """What `block` computes at each row's first position, from every position's keys and values:
    [batch, length, hidden] -> [batch, hidden]."""
    first = x[:, 0]
    attended = block._self_attention_layer(query=first[:, None], value=x, attention_mask=padding_mask[:, None, :],
                                           training=training)
    return feedforward_half(block, first, attended[:, 0], training)


def feedforward_half(block: keras_hub.layers.TransformerEncoder, x: tf.Tensor, attended: tf.Tensor,
                     training=None) -> tf.Tensor:
    """The rest of the post-LayerNorm `block` once its attention's output projection `attended` is known (both
    [tokens, hidden]): residual and LayerNorm, feed-forward, residual and LayerNorm."""
    x = block._self_attention_layer_norm(x + block._self_attention_dropout(attended, training=training))
    # At inference GELU runs plain: it fuses into the matmul before it (`PackedTokens`) and needs no XLA compile
    # for the token count, which changes with every batch. Training keeps it fused (forward and backward
    # 42 -> 24 ms a layer at 4,096 tokens), compiled for token counts rounded up (`activations.ROWS_PER_SHAPE`).
    with contextlib.nullcontext() if training else unfused():
        intermediate = block._feedforward_intermediate_dense(x)
    feedforward = block._feedforward_output_dense(intermediate)
    return block._feedforward_layer_norm(x + block._feedforward_dropout(feedforward, training=training))


def use_fast_sublayers(layer: keras.layers.Layer) -> None:
    """Makes, in place, every `keras.layers.Dropout` inside `layer` (built) a `PhiloxDropout`, every
    `keras.layers.EinsumDense` a `TFEinsumDense` and every `keras.layers.MultiHeadAttention` a
    `FusedMultiHeadAttention`.

    keras-hub's `TransformerEncoder` and Keras's `MultiHeadAttention` create these layers themselves;
    changing their class (subclasses that only change how they compute) keeps their names, weights, seed generators
    and places in checkpoints.
    """
    for sublayer in layer._flatten_layers(include_self=False):  # Keras has no public walk over sublayers
        if type(sublayer) is keras.layers.Dropout and sublayer.noise_shape is None:
            sublayer.__class__ = PhiloxDropout
        elif type(sublayer) is keras.layers.EinsumDense:
            sublayer.__class__ = TFEinsumDense
        elif type(sublayer) is keras.layers.MultiHeadAttention:
            sublayer.__class__ = FusedMultiHeadAttention
