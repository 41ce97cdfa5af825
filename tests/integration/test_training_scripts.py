"""The training scripts and commands as a user runs them: start_training.sh, kill -9 and --resume,
start_tensorboard.sh serving the run's scalars over HTTP."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from tests.conftest import PROJECT_ROOT, TINY_MODEL, free_ports, prepare_pairs

pytestmark = pytest.mark.integration
PAIRS = [(f"question {i} about {i % 5}", f"answer {i % 7} for {i}") for i in range(120)]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def settings(*extra):
    return sum((["--set", s] for s in (*TINY_MODEL, *extra)), [])


def test_start_training_prepares_a_missing_dataset_then_trains(tmp_path):
    result = subprocess.run(
        ["bash", "scripts/start_training.sh", "--profile", "tiny", "--set", "corpus.format=chatterbot",
         "--set", f"corpus.dataset_dir={tmp_path / 'data'}", "--set", f"train.save_dir={tmp_path / 'save'}",
         "--set", "train.epochs=1", "--run-name", "scripted"],
        cwd=PROJECT_ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "preparing it first" in result.stdout
    assert (tmp_path / "data" / "samples.npz").is_file()
    assert result.stdout.strip().splitlines()[-1] == str(tmp_path / "save" / "scripted")


def test_kill_9_then_resume_loses_at_most_one_epoch(tmp_path):
    data = prepare_pairs(tmp_path / "corpus", PAIRS, "samples.valid_fraction=0.2")
    run = tmp_path / "save" / "crash"
    command = [sys.executable, "-m", "deepqa", "train", "--data", str(data), "--run-name", "crash",
               *settings(f"train.save_dir={tmp_path / 'save'}", "train.epochs=200", "train.early_stopping_patience=0")]
    stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.time() + 600  # generous: a loaded 2-core machine
    completed = 0
    while time.time() < deadline and completed < 2 and process.poll() is None:
        time.sleep(0.5)
        if (run / "metrics.json").is_file():
            completed = json.loads((run / "metrics.json").read_text())["epochs_completed"]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stderr.seek(0)
    assert completed >= 2, f"training did not complete two epochs; its stderr:\n{stderr.read()[-5000:]}"
    saved = json.loads((run / "resume" / "progress.json").read_text())["epoch"]
    assert saved >= completed - 1
    result = subprocess.run([sys.executable, "-m", "deepqa", "train", "--resume", str(run),
                             "--set", f"train.epochs={saved + 2}"],
                            cwd=PROJECT_ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert [entry["epoch"] for entry in history] == list(range(1, saved + 3))



def test_start_tensorboard_serves_the_runs(tmp_path):
    data = prepare_pairs(tmp_path / "corpus", PAIRS, "samples.valid_fraction=0.2")
    subprocess.run([sys.executable, "-m", "deepqa", "train", "--data", str(data), "--run-name", "tb",
                    *settings(f"train.save_dir={tmp_path / 'save'}")], cwd=PROJECT_ROOT, env=ENV, check=True,
                   capture_output=True, timeout=300)
    port = free_ports()[0]
    stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    server = subprocess.Popen(["bash", "scripts/start_tensorboard.sh", str(tmp_path / "save")], cwd=PROJECT_ROOT,
                              env={**ENV, "PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=stderr,
                              start_new_session=True)
    try:
        runs = None
        deadline = time.time() + 300  # generous: a loaded 2-core machine
        while time.time() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=2) as reply:
                    runs = json.loads(reply.read())
                if runs:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        stderr.seek(0)
        assert runs, f"TensorBoard did not serve the runs; its stderr:\n{stderr.read()[-5000:]}"
        assert "loss" in runs["tb/logs/train"] and "loss" in runs["tb/logs/validation"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
