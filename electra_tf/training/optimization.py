"""ELECTRA's optimizer: AdamW, warm-up + linear decay, layer-wise LR decay.

A Keras 3 port of google-research/electra `model/optimization.py`. By default
the known quirks of the original are fixed; `original_quirks=True` in
`create_optimizer` reproduces them (no Adam bias correction, warm-up
multiplied into the decay, and the layer-wise decay off-by-one of
google-research/electra issues #51 and #64).

References:
    - [Clark et al., 2020](https://arxiv.org/abs/2003.10555)
    - [Loshchilov and Hutter, 2019](https://arxiv.org/abs/1711.05101)
"""

import re

import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

_ENCODER_LAYER = re.compile(r"transformer_layer_(\d+)")


@keras.saving.register_keras_serializable(package="electra_tf")
class WarmupLinearDecay(LearningRateSchedule):
    """Linear warm-up from 0 to a peak, then linear decay to 0.

    With `warmup_multiplies_decay=True` it is the original ELECTRA schedule:
    `peak * (1 - min(t, T) / T) * min(1, t / warmup_steps)`, i.e. the decay
    starts at step 0 and the warm-up ramp is multiplied into it, so the peak
    reached is `peak * (1 - warmup_steps / T)`.

    Args:
        peak_learning_rate: float. The learning rate at the end of warm-up.
        warmup_steps: int. Number of warm-up steps; 0 disables warm-up.
        decay_steps: int. Total number of steps; the rate is 0 from here on.
        warmup_multiplies_decay: bool. Whether to use the original's formula.
            Defaults to `False`.

    Example:
    ```python
    schedule = WarmupLinearDecay(1e-4, warmup_steps=10, decay_steps=110)
    float(schedule(5))  # 5e-05
    float(schedule(60))  # 5e-05
    ```
    """

    def __init__(
        self,
        peak_learning_rate: float,
        warmup_steps: int,
        decay_steps: int,
        warmup_multiplies_decay: bool = False,
    ):
        if decay_steps <= 0:
            raise ValueError(f"`decay_steps` must be > 0; got {decay_steps}.")
        if not 0 <= warmup_steps <= decay_steps:
            raise ValueError(
                f"`warmup_steps` must be in [0, {decay_steps}] (the total "
                f"number of training steps); got {warmup_steps}."
            )
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.decay_steps = decay_steps
        self.warmup_multiplies_decay = warmup_multiplies_decay

    def __call__(self, step):
        step = ops.cast(step, "float32")
        total = float(self.decay_steps)
        if self.warmup_multiplies_decay:
            rate = 1.0 - ops.minimum(step, total) / total
            if self.warmup_steps:
                rate = rate * ops.minimum(1.0, step / self.warmup_steps)
        else:
            # max(.., 1) keeps warmup_steps == decay_steps finite.
            rate = (total - step) / max(total - self.warmup_steps, 1.0)
            if self.warmup_steps:
                rate = ops.minimum(step / self.warmup_steps, rate)
            rate = ops.maximum(rate, 0.0)
        return self.peak_learning_rate * rate

    def get_config(self) -> dict:
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "warmup_multiplies_decay": self.warmup_multiplies_decay,
        }


def layer_depth(variable_path: str, num_layers: int) -> int:
    """Depth of a variable for layer-wise LR decay, from its Keras 3 path.

    A `transformer_layer_<i>` path segment gives depth `i + 1`; otherwise a
    segment starting with `embeddings` (e.g. `embeddings`,
    `embeddings_project`) gives 0; anything else (task heads) gives
    `num_layers + 1`. The encoder layer wins if both appear.

    Args:
        variable_path: str. The variable's `path`, e.g.
            `"electra/transformer_layer_3/self_attention/query/kernel"`.
        num_layers: int. Number of transformer layers in the encoder.

    Example:
    ```python
    layer_depth("electra/transformer_layer_3/ffn/kernel", num_layers=12)  # 4
    ```
    """
    segments = variable_path.split("/")
    for segment in segments:
        match = _ENCODER_LAYER.fullmatch(segment)
        if match:
            index = int(match.group(1))
            if index >= num_layers:
                raise ValueError(
                    f"Variable `{variable_path}` is in transformer layer "
                    f"{index}, but `num_layers` is {num_layers}."
                )
            return index + 1
    if any(segment.startswith("embeddings") for segment in segments):
        return 0
    return num_layers + 1


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraAdamW(keras.optimizers.AdamW):
    """AdamW as in ELECTRA, with optional layer-wise learning-rate decay.

    Weight decay is decoupled and skips variables named `gamma`, `beta`
    (LayerNorm) and `bias`. Gradients are clipped to a global norm. With
    layer-wise decay, a variable at depth `d` (see `layer_depth`) has its
    whole step, Adam update and weight decay alike, scaled by
    `layerwise_lr_decay ** (num_layers + 1 - d)`: task heads 1, the top
    encoder layer `layerwise_lr_decay`, the embeddings
    `layerwise_lr_decay ** (num_layers + 1)`.

    Args:
        learning_rate: float or `LearningRateSchedule`. Under gradient accumulation a schedule is evaluated at the
            number of real updates, not of micro-batches. Defaults to `1e-4`.
        weight_decay: float. Decoupled weight-decay rate. Defaults to `0.01`.
        beta_1: float. Decay rate of the first moment. Defaults to `0.9`.
        beta_2: float. Decay rate of the second moment. Defaults to `0.999`.
        epsilon: float. Added to `sqrt(v)`. Defaults to `1e-6`.
        global_clipnorm: float or None. Clip gradients to this global norm.
            Defaults to `1.0`.
        bias_correction: bool. Whether to bias-correct Adam's moments; `False`
            reproduces the original. Defaults to `True`.
        layerwise_lr_decay: float in (0, 1] or None. Per-layer decay factor
            of the learning rate. Defaults to `None` (no decay).
        num_layers: int or None. Number of encoder layers; required with
            `layerwise_lr_decay`. Defaults to `None`.
        layer_decay_off_by_one: bool. Use the original's exponent
            `num_layers + 2 - d` for embeddings and encoder layers (the top
            layer gets `layerwise_lr_decay ** 2`). Defaults to `False`.
        **kwargs: other `keras.optimizers.AdamW` arguments, e.g.
            `gradient_accumulation_steps`.

    Example:
    ```python
    optimizer = ElectraAdamW(learning_rate=1e-4, layerwise_lr_decay=0.8,
                             num_layers=12)
    ```
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 1e-4,
        weight_decay: float = 0.01,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-6,
        global_clipnorm: float | None = 1.0,
        bias_correction: bool = True,
        layerwise_lr_decay: float | None = None,
        num_layers: int | None = None,
        layer_decay_off_by_one: bool = False,
        **kwargs,
    ):
        if layerwise_lr_decay is not None:
            if not 0.0 < layerwise_lr_decay <= 1.0:
                raise ValueError(
                    "`layerwise_lr_decay` must be in (0, 1]; got "
                    f"{layerwise_lr_decay}."
                )
            if num_layers is None:
                raise ValueError("`layerwise_lr_decay` requires `num_layers`.")
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            global_clipnorm=global_clipnorm,
            **kwargs,
        )
        self.bias_correction = bias_correction
        self.layerwise_lr_decay = layerwise_lr_decay
        self.num_layers = num_layers
        self.layer_decay_off_by_one = layer_decay_off_by_one
        # Set here, not by callers, so that `from_config` restores it.
        self.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._lr_multipliers = tuple(map(self._compute_multiplier, var_list))
        # Decided on the Keras variables: inside `update_step` the TF backend
        # passes `tf.Variable`s, whose names carry the model's name scope
        # (e.g. "beta_model/kernel:0" would match "beta").
        self._decays = tuple(map(self._use_weight_decay, var_list))

    def _compute_multiplier(self, variable) -> float:
        if self.layerwise_lr_decay is None:
            return 1.0
        depth = layer_depth(variable.path, self.num_layers)
        if depth > self.num_layers:
            return 1.0
        top = self.num_layers + (2 if self.layer_decay_off_by_one else 1)
        return self.layerwise_lr_decay ** (top - depth)

    def lr_multiplier(self, variable) -> float:
        """The learning-rate multiplier of a variable (optimizer built)."""
        if not self.built:
            raise ValueError("Build the optimizer before asking multipliers.")
        return self._lr_multipliers[self._get_variable_index(variable)]

    def _get_current_learning_rate(self):
        # Keras evaluates schedules at the micro-batch counter under gradient
        # accumulation; ELECTRA's schedule counts updates (`iterations`).
        if isinstance(self._learning_rate, LearningRateSchedule):
            return self._learning_rate(self.iterations)
        return super()._get_current_learning_rate()

    def _apply_weight_decay(self, variables):
        # Applied in `update_step` instead, where the multiplier is known.
        pass

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = ops.cast(learning_rate, variable.dtype) * self._lr_multipliers[index]
        if self._decays[index]:
            decay = ops.cast(self.weight_decay, variable.dtype)
            self.assign_sub(variable, variable * decay * lr)
        if self.bias_correction:
            return super().update_step(gradient, variable, lr)
        gradient = ops.cast(gradient, variable.dtype)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, (gradient - m) * (1 - self.beta_1))
        self.assign_add(v, (ops.square(gradient) - v) * (1 - self.beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[index]
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        self.assign_sub(variable, lr * m / (ops.sqrt(v) + self.epsilon))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "bias_correction": self.bias_correction,
                "layerwise_lr_decay": self.layerwise_lr_decay,
                "num_layers": self.num_layers,
                "layer_decay_off_by_one": self.layer_decay_off_by_one,
            }
        )
        return config


def create_optimizer(
    learning_rate: float,
    num_train_steps: int,
    warmup_steps: int,
    *,
    weight_decay: float = 0.01,
    epsilon: float = 1e-6,
    clip_norm: float | None = 1.0,
    layerwise_lr_decay: float | None = None,
    num_layers: int | None = None,
    original_quirks: bool = False,
    gradient_accumulation_steps: int | None = None,
) -> ElectraAdamW:
    """Builds ELECTRA's `WarmupLinearDecay` schedule and `ElectraAdamW`.

    Steps count optimizer updates, so with gradient accumulation
    `num_train_steps` is the number of updates, not of micro-batches.

    Args:
        learning_rate: float. Peak learning rate.
        num_train_steps: int. Total number of updates.
        warmup_steps: int. Number of warm-up updates.
        weight_decay: float. Decoupled weight-decay rate. Defaults to `0.01`.
        epsilon: float. Adam's epsilon. Defaults to `1e-6`.
        clip_norm: float or None. Global gradient-norm clip. Defaults to `1.0`.
        layerwise_lr_decay: float or None. Layer-wise LR decay factor.
            Defaults to `None`.
        num_layers: int or None. Encoder layers, for layer-wise decay.
            Defaults to `None`.
        original_quirks: bool. Reproduce the original: no bias correction,
            warm-up multiplied into the decay, layer-decay off-by-one.
            Defaults to `False`.
        gradient_accumulation_steps: int or None. Micro-batches per update.
            Defaults to `None` (no accumulation).

    Example:
    ```python
    optimizer = create_optimizer(1e-4, num_train_steps=1000, warmup_steps=100)
    ```
    """
    if learning_rate <= 0:
        raise ValueError(f"`learning_rate` must be > 0; got {learning_rate}.")
    if gradient_accumulation_steps is not None and gradient_accumulation_steps < 1:
        raise ValueError(
            "`gradient_accumulation_steps` must be >= 1; got "
            f"{gradient_accumulation_steps}."
        )
    schedule = WarmupLinearDecay(
        learning_rate,
        warmup_steps,
        num_train_steps,
        warmup_multiplies_decay=original_quirks,
    )
    return ElectraAdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        epsilon=epsilon,
        global_clipnorm=clip_norm,
        bias_correction=not original_quirks,
        layerwise_lr_decay=layerwise_lr_decay,
        num_layers=num_layers,
        layer_decay_off_by_one=original_quirks,
        # Keras rejects 1; it means no accumulation.
        gradient_accumulation_steps=(
            gradient_accumulation_steps
            if gradient_accumulation_steps and gradient_accumulation_steps > 1
            else None
        ),
    )
