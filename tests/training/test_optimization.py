"""Tests for `electra_tf.training.optimization` against hand/NumPy numbers."""

import copy

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.training.optimization import (
    ElectraAdamW,
    WarmupLinearDecay,
    create_optimizer,
    layer_depth,
)

STEPS = [0, 5, 10, 60, 110, 200]


def _values(schedule, steps=STEPS):
    return [float(schedule(tf.constant(s, tf.int64))) for s in steps]


def test_schedule_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(2.0, warmup_steps=10, decay_steps=110)
    np.testing.assert_allclose(
        _values(schedule), [0.0, 1.0, 2.0, 1.0, 0.0, 0.0], atol=1e-6
    )


def test_schedule_original_warmup_multiplies_decay():
    schedule = WarmupLinearDecay(2.0, 10, 110, warmup_multiplies_decay=True)
    expected = [0.0, 2 * (1 - 5 / 110) * 0.5, 2 * (1 - 10 / 110)]
    expected += [2 * (1 - 60 / 110), 0.0, 0.0]
    np.testing.assert_allclose(_values(schedule), expected, atol=1e-6)


@pytest.mark.parametrize("quirk", [False, True])
def test_schedule_without_warmup(quirk):
    schedule = WarmupLinearDecay(2.0, 0, 110, warmup_multiplies_decay=quirk)
    np.testing.assert_allclose(
        _values(schedule, [0, 55, 110, 111]), [2.0, 1.0, 0.0, 0.0], atol=1e-6
    )


def test_schedule_warmup_equal_to_total_steps():
    schedule = WarmupLinearDecay(2.0, 10, 10)
    np.testing.assert_allclose(
        _values(schedule, [5, 10, 11]), [1.0, 0.0, 0.0], atol=1e-6
    )


def test_schedule_in_xla_with_int64_step():
    schedule = WarmupLinearDecay(2.0, 10, 110)
    fn = tf.function(schedule, jit_compile=True)
    assert float(fn(tf.constant(60, tf.int64))) == pytest.approx(1.0)


def test_schedule_config_round_trip():
    schedule = WarmupLinearDecay(3e-4, 7, 99, warmup_multiplies_decay=True)
    config = schedule.get_config()
    assert WarmupLinearDecay.from_config(config).get_config() == config
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, WarmupLinearDecay)
    assert restored.get_config() == config


def _reference_adamw(params, grad_steps, lr, wd, decayed, bias_correction):
    """NumPy AdamW: the original's update, or Keras's bias-corrected one."""
    b1, b2, eps = 0.9, 0.999, 1e-6
    params = {k: np.array(p, np.float64) for k, p in params.items()}
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    for t, grads in enumerate(grad_steps, start=1):
        for k, g in grads.items():
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            step = lr
            if bias_correction:
                step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            update = step * m[k] / (np.sqrt(v[k]) + eps)
            params[k] = params[k] - lr * wd * params[k] * decayed[k] - update
    return params


def _variables(rng):
    shapes = {"kernel": (2, 3), "bias": (3,), "gamma": (3,), "beta": (3,)}
    return {
        name: keras.Variable(rng.normal(size=s).astype("float32"), name=name)
        for name, s in shapes.items()
    }


@pytest.mark.parametrize("bias_correction", [True, False])
def test_steps_match_numpy_adamw(bias_correction):
    rng = np.random.default_rng(0)
    variables = _variables(rng)
    initial = {k: v.numpy() for k, v in variables.items()}
    grad_steps = [
        {k: rng.standard_normal(p.shape, "float32") for k, p in initial.items()}
        for _ in range(3)
    ]
    optimizer = ElectraAdamW(
        0.01,
        weight_decay=0.1,
        global_clipnorm=None,
        bias_correction=bias_correction,
    )
    names = list(variables)
    for grads in grad_steps:
        optimizer.apply([grads[k] for k in names], list(variables.values()))
    decayed = {"kernel": 1.0, "bias": 0.0, "gamma": 0.0, "beta": 0.0}
    expected = _reference_adamw(
        initial, grad_steps, 0.01, 0.1, decayed, bias_correction
    )
    for name in names:
        np.testing.assert_allclose(
            variables[name].numpy(), expected[name], atol=1e-6, err_msg=name
        )


def test_weight_decay_exclusion_ignores_model_name():
    # Keras's AdamW matches the `tf.Variable` name "beta_net/dense/kernel:0".
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")],
        name="beta_net",
    )
    optimizer = ElectraAdamW(0.1, weight_decay=0.5)
    kernel, bias = model.trainable_variables
    optimizer.apply([tf.zeros((2, 1)), tf.zeros((1,))], [kernel, bias])
    np.testing.assert_allclose(kernel.numpy(), 0.95, atol=1e-7)


def test_global_norm_clipping():
    a = keras.Variable(np.zeros(2, "float32"), name="a")
    b = keras.Variable(np.zeros(2, "float32"), name="b")
    big = [np.array([3e3, 0.0]), np.array([0.0, 4e3])]  # global norm 5000
    small = [np.array([0.1, -0.2]), np.array([0.3, 0.0])]  # norm < 1
    optimizer = ElectraAdamW(0.01, weight_decay=0.0)  # global_clipnorm=1
    for grads in (big, small):
        optimizer.apply([tf.constant(g, tf.float32) for g in grads], [a, b])
    clipped = [g / 5000.0 for g in big]
    expected = _reference_adamw(
        {"a": np.zeros(2), "b": np.zeros(2)},
        [dict(a=clipped[0], b=clipped[1]), dict(a=small[0], b=small[1])],
        0.01,
        0.0,
        {"a": 0.0, "b": 0.0},
        True,
    )
    np.testing.assert_allclose(a.numpy(), expected["a"], atol=1e-6)
    np.testing.assert_allclose(b.numpy(), expected["b"], atol=1e-6)


class _Embeddings(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.word_embeddings = keras.layers.Embedding(
            10, 4, name="word_embeddings"
        )
        self.layer_norm = keras.layers.LayerNormalization(name="layer_norm")

    def call(self, ids):
        return self.layer_norm(self.word_embeddings(ids))


class _TinyElectra(keras.Model):
    def __init__(self, dtype=None, **kwargs):
        super().__init__(**kwargs)
        self.embeddings = _Embeddings(name="embeddings", dtype=dtype)
        self.project = keras.layers.Dense(
            3, name="embeddings_project", dtype=dtype
        )
        self.blocks = [
            keras.layers.Dense(3, name=f"transformer_layer_{i}", dtype=dtype)
            for i in range(2)
        ]
        self.head = keras.layers.Dense(2, name="classifier_head", dtype=dtype)

    def call(self, ids):
        hidden = self.project(self.embeddings(ids))
        for block in self.blocks:
            hidden = block(hidden)
        return keras.ops.mean(self.head(hidden), axis=1)


def _tiny_model(dtype=None):
    keras.utils.set_random_seed(0)
    model = _TinyElectra(name="electra", dtype=dtype)
    model(np.zeros((1, 3), "int32"))
    return model


def test_layer_depth():
    assert layer_depth("electra/embeddings/word_embeddings/embeddings", 2) == 0
    assert layer_depth("electra/embeddings_project/kernel", 2) == 0
    assert layer_depth("electra/transformer_layer_0/kernel", 2) == 1
    assert layer_depth("x/transformer_layer_11/ffn/kernel", 12) == 12
    assert layer_depth("electra/classifier_head/logits/kernel", 2) == 3
    with pytest.raises(ValueError, match="num_layers"):
        layer_depth("electra/transformer_layer_2/kernel", 2)


def _prefix_multipliers(optimizer, model):
    by_prefix = {}
    for variable in model.trainable_variables:
        prefix = variable.path.split("/")[1]
        multiplier = optimizer.lr_multiplier(variable)
        by_prefix.setdefault(prefix, set()).add(multiplier)
    return by_prefix


@pytest.mark.parametrize(
    "off_by_one, expected",
    [
        (False, [0.125, 0.125, 0.25, 0.5, 1.0]),
        (True, [0.0625, 0.0625, 0.125, 0.25, 1.0]),
    ],
)
def test_layerwise_multipliers(off_by_one, expected):
    model = _tiny_model()
    optimizer = ElectraAdamW(
        layerwise_lr_decay=0.5, num_layers=2, layer_decay_off_by_one=off_by_one
    )
    optimizer.build(model.trainable_variables)
    prefixes = ["embeddings", "embeddings_project", "transformer_layer_0"]
    prefixes += ["transformer_layer_1", "classifier_head"]
    assert _prefix_multipliers(optimizer, model) == {
        prefix: {value} for prefix, value in zip(prefixes, expected)
    }


def test_layerwise_decay_scales_the_step():
    model = _tiny_model()
    optimizer = ElectraAdamW(
        0.01,
        weight_decay=0.0,
        global_clipnorm=None,
        layerwise_lr_decay=0.5,
        num_layers=2,
    )
    before = [v.numpy() for v in model.trainable_variables]
    variables = model.trainable_variables
    optimizer.apply([tf.ones_like(v) for v in variables], variables)
    moves = {
        v.path: float(np.mean(b - v.numpy()))
        for v, b in zip(model.trainable_variables, before)
    }
    head = moves["electra/classifier_head/kernel"]
    assert head == pytest.approx(0.01, rel=1e-4)
    embedding = moves["electra/embeddings/word_embeddings/embeddings"]
    assert embedding / head == pytest.approx(0.5**3, rel=1e-5)
    assert moves["electra/transformer_layer_1/kernel"] / head == pytest.approx(
        0.5, rel=1e-5
    )


def test_layerwise_decay_also_scales_weight_decay():
    model = _tiny_model()
    optimizer = ElectraAdamW(
        0.01, weight_decay=0.5, layerwise_lr_decay=0.5, num_layers=2
    )
    kernels = [v for v in model.trainable_variables if v.name == "kernel"]
    before = [v.numpy() for v in kernels]
    optimizer.apply([tf.zeros_like(v) for v in kernels], kernels)
    for variable, old in zip(kernels, before):
        factor = 1 - 0.01 * 0.5 * optimizer.lr_multiplier(variable)
        np.testing.assert_allclose(variable.numpy(), old * factor, rtol=1e-6)


def _embedding_gradient_steps(model, steps=3):
    """Per step, one gradient per variable; the word table's as an embedding lookup gives it: one row
    per occurrence, with ids repeated hundreds of times (and some rows not looked up at all)."""
    rng = np.random.default_rng(3)
    ids = np.array([0] * 500 + [3] * 20 + [7], np.int32)
    gradient_steps = []
    for _ in range(steps):
        grads = []
        for variable in model.trainable_variables:
            if variable.path.endswith("word_embeddings/embeddings"):
                values = rng.normal(size=(len(ids), variable.shape[1])).astype("float32")
                grads.append(tf.IndexedSlices(tf.constant(values), tf.constant(ids),
                                              tf.constant(variable.shape)))
            else:
                grads.append(tf.constant(rng.normal(size=variable.shape).astype("float32")))
        gradient_steps.append(grads)
    return gradient_steps


@pytest.mark.parametrize("clip_norm", [None, 1.0])
def test_repeated_embedding_rows_update_as_their_dense_sum(clip_norm):
    # Keras's Adam alone squares the rows before summing them, and its clip measures them unsummed:
    # the repeated rows would move about 20x too far.
    results = []
    for densify in (False, True):
        model = _tiny_model()
        optimizer = ElectraAdamW(1e-2, weight_decay=0.1, global_clipnorm=clip_norm,
                                 layerwise_lr_decay=0.8, num_layers=2)
        for grads in _embedding_gradient_steps(model):
            if densify:
                grads = [tf.convert_to_tensor(g) for g in grads]
            optimizer.apply(grads, model.trainable_variables)
        results.append({v.path: v.numpy() for v in model.trainable_variables})
    sparse, dense = results
    for path in dense:
        np.testing.assert_allclose(sparse[path], dense[path], atol=1e-6, err_msg=path)


def _train(model, optimizer, jit_compile, steps=3):
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 10, size=(4, 3))
    targets = rng.normal(size=(4, 2)).astype("float32")

    @tf.function(jit_compile=jit_compile)
    def train_step(ids, targets):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((model(ids) - targets) ** 2)
            loss = optimizer.scale_loss(loss)  # LossScaleOptimizer unscales.
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)

    for _ in range(steps):
        train_step(ids, targets)
    return [v.numpy() for v in model.trainable_variables]


def test_xla_matches_graph_mode_with_original_quirks():
    results = []
    for jit_compile in (False, True):
        optimizer = create_optimizer(
            1e-2,
            10,
            2,
            layerwise_lr_decay=0.8,
            num_layers=2,
            original_quirks=True,
        )
        results.append(_train(_tiny_model(), optimizer, jit_compile))
    for graph, xla in zip(*results):
        np.testing.assert_allclose(graph, xla, atol=1e-6)


def test_loss_scale_optimizer_matches_unwrapped():
    results = []
    for wrap in (False, True):
        optimizer = create_optimizer(
            1e-2, 10, 2, layerwise_lr_decay=0.8, num_layers=2
        )
        if wrap:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        results.append(_train(_tiny_model(), optimizer, jit_compile=False))
    for plain, wrapped in zip(*results):
        np.testing.assert_allclose(plain, wrapped, atol=1e-6)


def test_loss_scale_optimizer_mixed_float16_fit():
    model = _tiny_model(dtype="mixed_float16")
    inner = create_optimizer(
        1e-3,
        10,
        2,
        layerwise_lr_decay=0.8,
        num_layers=2,
    )
    optimizer = keras.optimizers.LossScaleOptimizer(inner)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=True)
    before = [v.numpy() for v in model.trainable_variables]
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 10, (32, 3)), rng.normal(size=(32, 2))
    model.fit(ids, targets, batch_size=4, verbose=0)
    assert int(optimizer.iterations) >= 1
    for old, variable in zip(before, model.trainable_variables):
        assert np.all(np.isfinite(variable.numpy()))
        assert not np.allclose(old, variable.numpy())
    serialized = keras.optimizers.serialize(optimizer)
    restored = keras.optimizers.deserialize(serialized)
    assert restored.inner_optimizer.get_config() == inner.get_config()


def _fit_small_regression(strategy, loss_scale):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(3, name="transformer_layer_0"),
                keras.layers.Dense(1, name="head"),
            ]
        )
        optimizer = create_optimizer(
            1e-2, 10, 2, layerwise_lr_decay=0.5, num_layers=1
        )
        if loss_scale:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer, "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    # Large targets, so that clipping is active.
    y = 10 * rng.normal(size=(32, 1)).astype("float32")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    return [v.numpy() for v in model.trainable_variables]


@pytest.mark.parametrize("loss_scale", [False, True])
def test_mirrored_strategy_matches_single_device(
    two_device_strategy, loss_scale
):
    single = _fit_small_regression(tf.distribute.get_strategy(), loss_scale)
    mirrored = _fit_small_regression(two_device_strategy, loss_scale)
    # Clipping each replica's gradients before the sum (Keras's default)
    # would differ by ~1e-2.
    for expected, actual in zip(single, mirrored):
        np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_config_round_trip():
    optimizer = create_optimizer(
        2e-4,
        100,
        10,
        layerwise_lr_decay=0.8,
        num_layers=12,
        original_quirks=True,
    )
    config = optimizer.get_config()
    assert config["bias_correction"] is False
    assert config["layer_decay_off_by_one"] is True
    assert config["learning_rate"]["config"]["warmup_multiplies_decay"] is True
    # Keras's `from_config` replaces the schedule config in place.
    restored = ElectraAdamW.from_config(copy.deepcopy(config))
    assert restored.get_config() == config
    serialized = keras.optimizers.serialize(optimizer)
    restored = keras.optimizers.deserialize(serialized)
    assert isinstance(restored, ElectraAdamW)
    assert restored.get_config() == config


def test_create_optimizer_defaults():
    optimizer = create_optimizer(1e-4, 100, 10)
    assert optimizer.gradient_accumulation_steps is None
    assert optimizer.global_clipnorm == 1.0
    assert optimizer.weight_decay == 0.01
    assert optimizer.epsilon == 1e-6
    assert optimizer.bias_correction is True
    assert optimizer.layer_decay_off_by_one is False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(learning_rate=-1e-4), "learning_rate"),
        (dict(warmup_steps=101), "warmup_steps"),
        (dict(layerwise_lr_decay=0.0, num_layers=2), "layerwise_lr_decay"),
        (dict(layerwise_lr_decay=1.5, num_layers=2), "layerwise_lr_decay"),
        (dict(layerwise_lr_decay=0.8), "num_layers"),
    ],
)
def test_create_optimizer_rejects_bad_input(kwargs, message):
    arguments = dict(learning_rate=1e-4, num_train_steps=100, warmup_steps=10)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        create_optimizer(**arguments)


def test_keras_gradient_accumulation_is_refused_for_the_in_step_one():
    with pytest.raises(ValueError, match="grad_accum_steps"):
        ElectraAdamW(1e-3, gradient_accumulation_steps=2)
