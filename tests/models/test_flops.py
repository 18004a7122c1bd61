"""FLOPs are counted as the paper's `flops_computation.py` counts them: its published totals come back."""

import pytest

from electra_tf.config import ElectraConfig
from electra_tf.models.flops import pretraining_flops

SMALL, BASE = ElectraConfig.from_preset("small"), ElectraConfig.from_preset("base")


@pytest.mark.parametrize("config, seq_len, batch_size, steps, objective, expected", [
    (SMALL, 128, 128, 1e6, "electra", 1.29e18),  # ELECTRA-Small
    (SMALL, 128, 128, 1.45e6, "mlm", 1.42e18),  # BERT-Small (the same encoder as a masked LM)
    (BASE, 512, 256, 766e3, "electra", 6.42e19),  # ELECTRA-Base
    (BASE, 512, 256, 1e6, "mlm", 6.43e19),  # BERT-Base
])
def test_the_scripts_totals_come_back(config, seq_len, batch_size, steps, objective, expected):
    assert pretraining_flops(config, seq_len, batch_size, steps, objective) == pytest.approx(expected, rel=5e-3)


def test_electra_costs_more_per_step_than_mlm_on_the_same_encoder_and_an_unknown_objective_is_refused():
    electra, mlm = (pretraining_flops(SMALL, 128, 1, 1, objective) for objective in ("electra", "mlm"))
    assert 1.1 < electra / mlm < 1.4  # the generator and the RTD head over every token
    with pytest.raises(ValueError, match="Unknown objective 'gpt'"):
        pretraining_flops(SMALL, 128, 1, 1, "gpt")
