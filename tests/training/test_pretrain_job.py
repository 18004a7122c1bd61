"""The pre-training job: resume after an interruption, continued pre-training, vocabulary handling."""

import json
import os
import pathlib
import signal

import numpy as np
import pytest

from electra_tf.config import ElectraConfig
from electra_tf.data.pretraining import CorpusSource
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.training.checkpoints import Preempted, checkpoints
from electra_tf.training.pretrain import PretrainingJob, run_pretraining
from tests.test_case import AtStep


def _job(output_dir, **overrides):
    values = dict(source=CorpusSource(text_files=str(SAMPLE_CORPUS_FILE)), output_dir=str(output_dir),
                  config=ElectraConfig.from_preset("tiny"), vocab=str(SAMPLE_VOCAB_FILE), num_steps=6,
                  batch_size=4, seq_len=32, learning_rate=1e-3, warmup_steps=2, checkpoint_every=2, seed=3)
    values.update(overrides)
    return PretrainingJob(**values)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The weights of a 6-step run that nothing interrupts."""
    return run_pretraining(_job(tmp_path_factory.mktemp("uninterrupted")), verbose=0).get_weights()


def _kill():
    raise KeyboardInterrupt("simulated kill")


def test_a_run_killed_between_checkpoints_resumes_from_the_last_saved_step_exactly(tmp_path, capsys, uninterrupted):
    with pytest.raises(KeyboardInterrupt):  # checkpoints every 2 steps; killed after step 5
        run_pretraining(_job(tmp_path), verbose=0, callbacks=[AtStep(5, _kill)])
    assert [pathlib.Path(p).name for p in checkpoints(tmp_path / "checkpoints")] == ["step-2", "step-4"]

    counter = AtStep(0)
    resumed = run_pretraining(_job(tmp_path), verbose=0, callbacks=[counter])
    assert "Resumed from step 4" in capsys.readouterr().out
    assert counter.seen == 2 and int(resumed.optimizer.iterations) == 6  # step 5 again, then step 6
    for a, b in zip(uninterrupted, resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_sigterm_saves_the_current_step_and_a_rerun_continues_with_no_step_lost_or_repeated(tmp_path, capsys,
                                                                                          uninterrupted):
    terminate = AtStep(2, lambda: os.kill(os.getpid(), signal.SIGTERM))  # arrives during step 3's callbacks
    with pytest.raises(Preempted) as preempted:  # checkpoints every 4 steps: none due at step 3
        run_pretraining(_job(tmp_path, checkpoint_every=4), verbose=0, callbacks=[terminate])
    assert preempted.value.step == 3 and terminate.seen == 2  # fit stopped right after saving step 3
    assert [pathlib.Path(p).name for p in checkpoints(tmp_path / "checkpoints")] == ["step-3"]
    assert not (tmp_path / "config.json").exists()  # an unfinished run is not a model directory yet
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is the caller's again

    counter = AtStep(0)
    resumed = run_pretraining(_job(tmp_path, checkpoint_every=4), verbose=0, callbacks=[counter])
    assert "Resumed from step 3" in capsys.readouterr().out
    assert counter.seen == 3 and int(resumed.optimizer.iterations) == 6
    for a, b in zip(uninterrupted, resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_continued_pretraining_starts_from_the_model_with_a_fresh_schedule(tmp_path):
    first = run_pretraining(_job(tmp_path / "first", num_steps=2), verbose=0)
    continued = ElectraPretrainer.from_pretrained(tmp_path / "first")
    for a, b in zip(first.get_weights(), continued.get_weights()):
        np.testing.assert_array_equal(a, b)
    second = run_pretraining(_job(tmp_path / "second", config=None, vocab=None, init_from=str(tmp_path / "first"),
                                  num_steps=2, mask_prob=0.3), verbose=0)
    assert int(second.optimizer.iterations) == 2 and second.config.mask_prob == 0.3
    assert second.config.hidden_size == first.config.hidden_size


@pytest.mark.slow
def test_continued_pretraining_refuses_another_vocabulary(tmp_path):
    run_pretraining(_job(tmp_path / "first", num_steps=2), verbose=0)
    other_vocab = tmp_path / "vocab.txt"
    other_vocab.write_text("\n".join(WordPieceTokenizer(SAMPLE_VOCAB_FILE).vocabulary[:-1]) + "\n")
    with pytest.raises(ValueError, match="does not match the vocabulary"):
        run_pretraining(_job(tmp_path / "second", config=None, vocab=str(other_vocab),
                             init_from=str(tmp_path / "first")), verbose=0)


@pytest.mark.slow
def test_a_corrupt_checkpoint_is_reported(tmp_path):
    run_pretraining(_job(tmp_path, num_steps=2), verbose=0)
    (tmp_path / "checkpoints" / "step-2" / "model.weights.h5").write_bytes(b"not an h5 file")
    with pytest.raises(ValueError, match="corrupt"):
        run_pretraining(_job(tmp_path, num_steps=4), verbose=0)


def test_a_failed_vocabulary_learning_leaves_no_output_directory(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError):
        run_pretraining(_job(tmp_path / "run", source=CorpusSource(text_files=str(tmp_path / "empty.txt")), vocab=None,
                             learn_vocab_size=600, num_steps=2), verbose=0)
    assert not (tmp_path / "run").exists()


def test_learns_a_vocabulary_when_none_is_given(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SAMPLE_CORPUS_FILE.read_text().splitlines()[:400]) + "\n")
    pretrainer = run_pretraining(_job(tmp_path / "run", source=CorpusSource(text_files=str(corpus)), vocab=None,
                                      learn_vocab_size=2000, num_steps=2), verbose=0)
    vocabulary = (tmp_path / "run" / "vocab.txt").read_text().splitlines()
    assert pretrainer.config.vocab_size == len(vocabulary) < 2000  # 400 lines have too few pieces for 2000
    assert f"Learned {len(vocabulary)} tokens, not 2000" in capsys.readouterr().out
    assert vocabulary[0] == "[PAD]" and vocabulary[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.mark.slow
def test_a_mixed_precision_run_trains_in_it_and_gives_the_caller_its_policy_back(tmp_path):
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"
    pretrainer = run_pretraining(_job(tmp_path / "bf16", num_steps=2, mixed_precision="mixed_bfloat16"), verbose=0)
    assert pretrainer.discriminator.encoder.transformer_layers[0].compute_dtype == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_warmup_defaults_to_one_percent_of_the_run_and_the_used_values_are_recorded(tmp_path):
    assert _job(tmp_path, num_steps=200, warmup_steps=None).warmup == 2  # the paper's 10k of 1M
    assert _job(tmp_path, num_steps=1_000_000, warmup_steps=None).warmup == 10_000
    assert _job(tmp_path, num_steps=200, warmup_steps=30).warmup == 30
    run_pretraining(_job(tmp_path / "run", num_steps=5, warmup_steps=None, checkpoint_every=2), verbose=0)
    metadata = json.loads((tmp_path / "run" / "training_metadata.json").read_text())
    assert metadata["used"] == {"warmup_steps": 0, "checkpoints": str(tmp_path / "run" / "checkpoints")}
    # Every 2 steps and the last; the newest two kept.
    assert [pathlib.Path(p).name for p in checkpoints(tmp_path / "run" / "checkpoints")] == ["step-4", "step-5"]


@pytest.mark.slow
def test_resuming_with_other_settings_is_refused_naming_them(tmp_path, capsys):
    run_pretraining(_job(tmp_path, num_steps=2), verbose=0)
    with pytest.raises(ValueError) as refused:
        run_pretraining(_job(tmp_path, num_steps=4, batch_size=8, learning_rate=2e-3), verbose=0)
    assert "batch_size: 4 there, 8 now" in str(refused.value) and "learning_rate: 0.001 there, 0.002 now" in str(
        refused.value)
    assert "seq_len" not in str(refused.value)
    run_pretraining(_job(tmp_path, num_steps=4), verbose=0)  # more steps with the same settings continue
    assert "Resumed from step 2" in capsys.readouterr().out
    run_pretraining(_job(tmp_path, num_steps=6, batch_size=8, force=True), verbose=0)  # knowingly


@pytest.mark.slow
def test_a_corrupt_newest_checkpoint_falls_back_to_the_one_before(tmp_path, capsys):
    run_pretraining(_job(tmp_path, num_steps=4), verbose=0)
    (tmp_path / "checkpoints" / "step-4" / "model.weights.h5").write_bytes(b"not an h5 file")
    pretrainer = run_pretraining(_job(tmp_path, num_steps=6), verbose=0)
    out = capsys.readouterr().out
    assert "step-4 is corrupt" in out and "Resumed from step 2" in out
    assert int(pretrainer.optimizer.iterations) == 6


@pytest.mark.slow  # 4 min; the default suite's kill/resume test covers the shared steps, test_gdes the sharing
@pytest.mark.parametrize("objective, sharing", [("mlm", None), ("electra", "gdes")])
def test_objectives_and_embedding_sharing_resume_exactly_and_save_what_they_trained(tmp_path, objective, sharing):
    from electra_tf.models.backbone import ElectraBackbone
    from electra_tf.models.registry import model_class

    job = dict(objective=objective, embedding_sharing=sharing, num_steps=4)
    uninterrupted = run_pretraining(_job(tmp_path / "whole", **job), verbose=0)
    with pytest.raises(KeyboardInterrupt):
        run_pretraining(_job(tmp_path / "killed", **job), verbose=0, callbacks=[AtStep(3, _kill)])
    resumed = run_pretraining(_job(tmp_path / "killed", **job), verbose=0)
    for a, b in zip(uninterrupted.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    config = json.loads((tmp_path / "whole" / "config.json").read_text())
    task_type = json.loads((tmp_path / "whole" / "task.json").read_text())["task_type"]
    assert model_class(task_type) is type(uninterrupted)
    if objective == "mlm":  # BERT's corruption
        assert (config["mask_token_rate"], config["random_token_rate"]) == (0.8, 0.1)
        assert not hasattr(uninterrupted, "discriminator")
    else:
        assert config["embedding_sharing"] == "gdes"
        assert np.abs(uninterrupted.discriminator.encoder.embeddings.word_delta.numpy()).max() > 0
    # Fine-tuning starts from the encoder the objective trained.
    ids = np.array([[101, 2000, 2001, 102]], np.int32)
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    np.testing.assert_allclose(ElectraBackbone.from_pretrained(tmp_path / "whole").encoder(inputs),
                               uninterrupted.encoder(inputs), atol=1e-5)


def test_continuing_with_another_objective_is_refused(tmp_path):
    run_pretraining(_job(tmp_path / "mlm", objective="mlm", num_steps=1, checkpoint_every=1), verbose=0)
    with pytest.raises(ValueError, match="'masked_lm_pretraining' model, not a 'pretraining' one"):
        run_pretraining(_job(tmp_path / "electra", config=None, vocab=None, init_from=str(tmp_path / "mlm"),
                             num_steps=1), verbose=0)
