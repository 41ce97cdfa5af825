"""The benchmarks' own measuring helpers: the op-time profile of a real trace, and which ablation runs are
finished (and so reused by ``time_to_quality --reuse``)."""

from __future__ import annotations

import json

import tensorflow as tf

from benchmarks.time_to_quality import CANDIDATES, CORPORA, TRAINING, finished
from benchmarks.train_throughput import op_time_shares
from deepqa.config import load_config


def test_op_time_shares_read_a_real_profiler_trace(tmp_path):
    left, right = tf.random.normal([256, 256]), tf.random.normal([256, 256])
    product = tf.function(lambda a, b: tf.reduce_sum(tf.nn.relu(tf.linalg.matmul(a, b))))
    product(left, right)
    tf.profiler.experimental.start(str(tmp_path))
    for _ in range(20):
        product(left, right).numpy()
    tf.profiler.experimental.stop()
    shares = op_time_shares(tmp_path, top=3)
    assert any("MatMul" in op for op in shares), shares
    assert len(shares) <= 4 and "other" in shares
    assert abs(sum(shares.values()) - 1.0) < 0.01
    assert all(0.0 <= share <= 1.0 for share in shares.values())


def test_op_time_shares_of_a_folder_without_a_trace_are_all_other(tmp_path):
    assert op_time_shares(tmp_path) == {"other": 1.0}


def test_only_runs_that_ran_to_their_end_count_as_finished(tmp_path):
    assert not finished(tmp_path / "never-trained")
    (tmp_path / "metrics.json").write_text(json.dumps({"stopped": "running"}))
    assert not finished(tmp_path)
    (tmp_path / "metrics.json").write_text("{not json")
    assert not finished(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"stopped": "time_limit"}))
    assert finished(tmp_path)


def test_every_candidate_is_a_valid_change_of_the_quick_profile():
    assert CANDIDATES["baseline"] == {"data": [], "train": []}
    for corpus in CORPORA.values():
        assert set(corpus["candidates"]) <= set(CANDIDATES)
        for name in corpus["candidates"]:  # unknown or invalid settings raise ConfigError
            load_config(None, "quick", [*corpus["settings"], *CANDIDATES[name]["data"], *CANDIDATES[name]["train"],
                                        *TRAINING, "train.max_minutes=12"])
