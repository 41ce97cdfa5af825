"""Architecture search on a tiny corpus: the summary, skipped and completed trials, the best bundle,
resuming without repeating trials, and keras-tuner's distributed mode with a chief and two workers."""

import json
import os
import subprocess
import sys

import pytest

from deepqa.cli import main
from tests.conftest import PROJECT_ROOT, free_ports, prepare_pairs

pytestmark = pytest.mark.integration
PAIRS = [(f"question {i} about {i % 5}", f"answer {i % 7} for {i}") for i in range(80)]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def tune_arguments(tmp_path, *extra):
    settings = ["tuner.epochs_per_trial=1", "train.steps_per_epoch=2", f"tuner.directory={tmp_path / 'tuning'}",
                f"train.save_dir={tmp_path / 'save'}", "tuner.final_epochs=1", *extra]
    return ["--profile", "tiny", *sum((["--set", s] for s in settings), [])]


@pytest.fixture
def data(tmp_path):
    return prepare_pairs(tmp_path / "corpus", PAIRS, "samples.valid_fraction=0.2", "samples.test_fraction=0.1")


def test_search_skips_oversize_runs_the_rest_and_writes_the_best_bundle(tmp_path, data, capsys):
    # At this size an LSTM has 3,422 parameters, a transformer 2,232: the budget admits only transformers.
    code = main(["tune", "--data", str(data), "--run-name", "best",
                 *tune_arguments(tmp_path, "tuner.max_trials=3", "tuner.max_parameters=3000", "tuner.units=8",
                                 "tuner.embedding_dims=8", "tuner.seed=3")])
    output = capsys.readouterr().out
    assert code == 0
    assert "model_type (Choice)" in output and "'values': ['lstm', 'transformer']" in output
    assert "'values': [8]" in output  # the configured units and embedding widths
    rows = json.loads((tmp_path / "tuning" / "deepqa" / "results.json").read_text())
    assert len(rows) == 3
    statuses = {row["hyperparameters"]["model_type"]: row["status"] for row in rows}
    assert all(row["status"] == ("skipped" if row["hyperparameters"]["model_type"] == "lstm" else "completed")
               for row in rows), statuses
    assert any(row["status"] == "completed" for row in rows)
    assert (tmp_path / "tuning" / "deepqa" / "results.csv").read_text().startswith("trial,status,val_loss")
    run = tmp_path / "save" / "best"
    assert output.strip().splitlines()[-1] == str(run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "transformer" and (run / "best.weights.h5").is_file()
    trial_logs = list((tmp_path / "tuning" / "deepqa").glob("trial_*/run0/logs"))
    assert trial_logs and any(p.is_file() for p in trial_logs[0].iterdir())


def test_resumed_search_does_not_repeat_finished_trials(tmp_path, data, capsys):
    first = tune_arguments(tmp_path, "tuner.max_trials=2", "tuner.model_types=transformer")
    assert main(["tune", "--data", str(data), "--run-name", "one", *first]) == 0
    trial_dirs = sorted((tmp_path / "tuning" / "deepqa").glob("trial_*/run0"))
    stamps = {p: p.stat().st_mtime_ns for p in trial_dirs}
    capsys.readouterr()
    again = tune_arguments(tmp_path, "tuner.max_trials=3", "tuner.model_types=transformer")
    assert main(["tune", "--data", str(data), "--run-name", "two", *again]) == 0
    rows = json.loads((tmp_path / "tuning" / "deepqa" / "results.json").read_text())
    assert len(rows) == 3 and len(trial_dirs) == 2
    assert {p: p.stat().st_mtime_ns for p in trial_dirs} == stamps
    assert capsys.readouterr().out.count("Search: Running Trial") == 1



def test_a_search_whose_every_trial_is_skipped_retrains_nothing(tmp_path, data, capsys):
    code = main(["tune", "--data", str(data), "--run-name", "none",
                 *tune_arguments(tmp_path, "tuner.max_trials=2", "tuner.max_parameters=10")])
    captured = capsys.readouterr()
    assert code == 2 and "no trial completed" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    rows = json.loads((tmp_path / "tuning" / "deepqa" / "results.json").read_text())
    assert rows and all(row["status"] == "skipped" for row in rows)
    assert not (tmp_path / "save" / "none").exists() and not (tmp_path / "save" / "latest").exists()


def test_chief_and_two_workers_complete_a_four_trial_search(tmp_path, data):
    arguments = [sys.executable, "-m", "deepqa", "tune", "--data", str(data), "--run-name", "distributed",
                 *tune_arguments(tmp_path, "tuner.max_trials=4", "tuner.model_types=transformer",
                                 f"tuner.oracle_port={free_ports()[0]}", "tuner.chief_timeout_minutes=8")]
    chief = subprocess.Popen([*arguments, "--chief"], cwd=PROJECT_ROOT, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    workers = [subprocess.Popen([*arguments, "--worker", "--tuner-id", f"worker{i}"], cwd=PROJECT_ROOT, env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    try:
        worker_outputs = [w.communicate(timeout=600)[0] for w in workers]
        chief_output = chief.communicate(timeout=600)[0]
    finally:
        for process in (chief, *workers):
            process.kill()
    assert [w.returncode for w in workers] == [0, 0], "\n".join(o[-2000:] for o in worker_outputs)
    assert chief.returncode == 0, chief_output[-3000:]
    rows = json.loads((tmp_path / "tuning" / "deepqa" / "results.json").read_text())
    assert len(rows) == 4 and all(row["status"] == "completed" for row in rows)
    assert sum(o.count("epoch 1:") for o in worker_outputs) == 4  # the workers ran the four one-epoch trials
    assert chief_output.strip().splitlines()[-1] == str(tmp_path / "save" / "distributed")
