"""`ElectraConfig`: one frozen dataclass describing an ELECTRA model and its pre-training objective.

Field names are those of a Hugging Face ELECTRA `config.json` wherever Hugging Face has the field, so a
`config.json` written by `to_json` loads in `transformers` and one written by `transformers` loads here.
Fields Hugging Face lacks (generator size, masking, loss weights, special ids) follow the original
google-research/electra `configure_pretraining.py`.

Example:
```python
from electra_tf.config import ElectraConfig, generator_config
config = ElectraConfig.from_preset("small")
assert generator_config(config).hidden_size == 64
assert ElectraConfig.from_json(config.to_json()) == config
```
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

# Keys a Hugging Face `config.json` carries that describe the checkpoint rather than the network, or
# options this package does not support in any other value than their default. They are accepted and
# dropped on read so a Hugging Face file loads; anything else unknown is an error.
_HF_BOOKKEEPING_KEYS = frozenset({
    "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "summary_type",
    "summary_use_proj", "summary_activation", "summary_last_dropout", "position_embedding_type",
    "use_cache", "classifier_dropout", "id2label", "label2id", "problem_type", "bos_token_id",
    "eos_token_id", "_name_or_path", "output_past", "add_cross_attention", "is_decoder", "is_encoder_decoder",
    "tie_word_embeddings", "return_dict", "output_hidden_states", "output_attentions", "torchscript",
    "chunk_size_feed_forward", "pruned_heads", "tie_encoder_decoder", "cross_attention_hidden_size",
    "decoder_start_token_id",
})


EMBEDDING_SHARING = ("tied", "untied", "gdes")


@dataclasses.dataclass(frozen=True)
class ElectraConfig:
    """Architecture and pre-training hyperparameters of an ELECTRA discriminator and its generator.

    Defaults are ELECTRA-Small as in the paper (Clark et al. 2020, https://arxiv.org/abs/2003.10555).
    """

    # --- Discriminator architecture (Hugging Face names) ---
    vocab_size: int = 30522  # uncased BERT WordPiece vocabulary
    embedding_size: int = 128  # factorised embeddings: E, projected to H when E != H
    hidden_size: int = 256  # H
    num_hidden_layers: int = 12
    num_attention_heads: int = 4  # H / 64
    intermediate_size: int = 1024  # 4H
    hidden_act: str = "gelu"  # exact erf GELU, as the original (keras-hub uses the tanh approximation)
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02  # truncated normal stddev of encoder weights
    layer_norm_eps: float = 1e-12
    # --- Special token ids (BERT vocabulary layout) ---
    pad_token_id: int = 0
    cls_token_id: int = 101
    sep_token_id: int = 102
    mask_token_id: int | None = 103  # required for pre-training
    # --- Generator (fractions of the discriminator, as `get_generator_config` in the original) ---
    generator_hidden_size: float = 0.25  # paper Small 1/4, Base 1/3, Large 1/4; released Small++ 1.0
    generator_layers: float = 1.0  # the original scales width, not depth
    # How the generator and discriminator share embeddings: "tied" (the paper: one table), "untied" (the paper's
    # ablation: the generator's own, of its hidden size) or "gdes" (DeBERTa-v3's gradient-disentangled sharing:
    # the discriminator reads stop_gradient(generator's) + its own zero-initialised delta).
    embedding_sharing: str = "tied"
    # --- Pre-training objective ---
    mask_prob: float = 0.15  # share of tokens the generator predicts (0.25 for Large)
    mask_token_rate: float = 0.85  # of those, share replaced by [MASK]; the rest keep the token (0% random)
    random_token_rate: float = 0.0  # of those, share replaced by a random token (BERT's masked LM: 0.1)
    max_predictions_per_seq: int | None = None  # None: int((mask_prob + 0.005) * sequence_length)
    sample_with_replacement: bool = False  # True reproduces the original's duplicate-position sampling
    temperature: float = 1.0  # generator sampling temperature; 0 means greedy argmax
    mlm_weight: float = 1.0  # gen_weight in the original
    rtd_weight: float = 50.0  # disc_weight in the original

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                     "num_attention_heads", "intermediate_size", "max_position_embeddings",
                     "type_vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"ElectraConfig.{name} must be a positive integer, got {getattr(self, name)}.")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads}).")
        if self.hidden_act != "gelu":
            raise ValueError(f"hidden_act {self.hidden_act!r} is not supported; ELECTRA uses 'gelu' (exact erf).")
        for name in ("pad_token_id", "cls_token_id", "sep_token_id", "mask_token_id"):
            token_id = getattr(self, name)
            if token_id is not None and not 0 <= token_id < self.vocab_size:
                raise ValueError(
                    f"ElectraConfig.{name}={token_id} is outside the vocabulary [0, {self.vocab_size}): "
                    "the vocabulary does not match this config.")
        if not 0.0 < self.mask_prob < 1.0 + 1e-9:
            raise ValueError(f"mask_prob must be in (0, 1], got {self.mask_prob}.")
        if not (0.0 <= self.mask_token_rate and 0.0 <= self.random_token_rate
                and self.mask_token_rate + self.random_token_rate <= 1.0):
            raise ValueError("mask_token_rate and random_token_rate must be >= 0 with a sum <= 1, got "
                             f"{self.mask_token_rate} and {self.random_token_rate}.")
        if self.embedding_sharing not in EMBEDDING_SHARING:
            raise ValueError(f"embedding_sharing must be one of {EMBEDDING_SHARING}, got {self.embedding_sharing!r}.")
        if not 0.0 < self.generator_hidden_size <= 1.0 or not 0.0 < self.generator_layers <= 1.0:
            raise ValueError("generator_hidden_size and generator_layers are fractions in (0, 1].")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}.")

    # --- Derived values ---
    def max_predictions(self, sequence_length: int) -> int:
        """N, the fixed number of mask slots per example for sequences of `sequence_length` tokens."""
        if self.max_predictions_per_seq is not None:
            return min(self.max_predictions_per_seq, sequence_length)
        return min(int((self.mask_prob + 0.005) * sequence_length), sequence_length)

    def special_token_ids(self) -> tuple[int, ...]:
        """Ids never selected for masking: [CLS], [SEP] and [MASK] (padding is excluded by the mask)."""
        return tuple(i for i in (self.cls_token_id, self.sep_token_id, self.mask_token_id) if i is not None)

    # --- Serialisation ---
    def to_dict(self) -> dict[str, Any]:
        return {"model_type": "electra", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ElectraConfig":
        """Builds a config from a dict, accepting Hugging Face `config.json` keys; unknown keys are errors."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields - _HF_BOOKKEEPING_KEYS - {"untied_generator_embeddings"})
        if unknown:
            raise ValueError(f"Unknown ElectraConfig keys: {unknown}.")
        if values.get("model_type", "electra") != "electra":
            raise ValueError(f"model_type {values['model_type']!r} is not 'electra'.")
        if "untied_generator_embeddings" in values:  # configs saved before `embedding_sharing`
            values = dict(values, embedding_sharing="untied" if values["untied_generator_embeddings"] else "tied")
        return cls(**{k: v for k, v in values.items() if k in fields})

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """Returns the config as JSON text, and writes it to `path` when one is given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> "ElectraConfig":
        """Reads a config from JSON text or from a JSON file path."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            if not os.path.isfile(text):
                raise FileNotFoundError(f"No ElectraConfig JSON file at {text}.")
            with open(text, encoding="utf-8") as f:
                text = f.read()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "ElectraConfig":
        """A preset from `PRESETS` (tiny, small, small++, base, large), optionally with fields replaced."""
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
        return dataclasses.replace(PRESETS[name], **overrides)


def generator_config(config: ElectraConfig) -> ElectraConfig:
    """The generator's architecture, derived from the discriminator's as `get_generator_config` does.

    hidden = round(H * generator_hidden_size), heads = max(1, hidden // 64), FFN = 4 * hidden,
    layers = round(L * generator_layers); embeddings (and so `embedding_size`) are shared, unless
    `embedding_sharing="untied"`, when the generator's own are of its hidden size (no projection).
    """
    hidden = round(config.hidden_size * config.generator_hidden_size)
    return dataclasses.replace(
        config,
        hidden_size=hidden,
        embedding_size=hidden if config.embedding_sharing == "untied" else config.embedding_size,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=4 * hidden,
        num_hidden_layers=round(config.num_hidden_layers * config.generator_layers),
    )


def bert_masking(config: ElectraConfig) -> ElectraConfig:
    """`config` with BERT's masked-LM corruption of the selected tokens: 80% [MASK], 10% random, 10% kept."""
    return dataclasses.replace(config, mask_token_rate=0.8, random_token_rate=0.1)


_SMALL = ElectraConfig()
PRESETS: dict[str, ElectraConfig] = {
    # Two layers, for tests and the CPU quick start.
    "tiny": dataclasses.replace(_SMALL, embedding_size=32, hidden_size=64, num_hidden_layers=2,
                                num_attention_heads=2, intermediate_size=256),
    "small": _SMALL,  # the paper's ELECTRA-Small: generator 1/4 of the discriminator
    "small++": dataclasses.replace(_SMALL, generator_hidden_size=1.0),  # the released electra_small
    "base": dataclasses.replace(_SMALL, embedding_size=768, hidden_size=768, num_attention_heads=12,
                                intermediate_size=3072, generator_hidden_size=1 / 3),
    "large": dataclasses.replace(_SMALL, embedding_size=1024, hidden_size=1024, num_hidden_layers=24,
                                 num_attention_heads=16, intermediate_size=4096, mask_prob=0.25),
}
