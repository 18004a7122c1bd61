import pytest

from electra_tf.training import callbacks


def test_throughput_counts_real_tokens_and_leaves_the_compiling_step_out_of_the_epoch(monkeypatch):
    clock = iter([0.0, 0.0, 10.0, 10.0, 11.0, 11.0, 12.0, 12.0])  # epoch start, then (begin, end) per step, end
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    throughput = callbacks.Throughput()
    throughput.on_train_begin()
    throughput.on_epoch_begin(0)
    logs = []
    for step, counted in enumerate([300.0, 700.0, 1000.0]):  # the model's cumulative real (unpadded) tokens
        throughput.on_train_batch_begin(step)
        logs.append({"loss": 1.0, "real_tokens": counted})
        throughput.on_train_batch_end(step, logs[-1])
    # 300 tokens in the 10 s of tracing, then 400 and 300 tokens in 1 s each.
    assert [log["tokens_per_s"] for log in logs] == [30.0, 400.0, 300.0]
    assert all("real_tokens" not in log for log in logs)
    epoch_logs = {"real_tokens": 1000.0}
    throughput.on_epoch_end(0, epoch_logs)
    assert epoch_logs == {"tokens_per_s": pytest.approx(700.0 / 2.0)}  # the first step left out
