"""Two training workers on 127.0.0.1 with MultiWorkerMirroredStrategy: both finish, the chief writes the bundle."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, TINY_MODEL, free_ports, prepare_pairs

pytestmark = pytest.mark.integration



def test_two_workers_train_in_sync(tmp_path):
    pairs = [(f"question {i} about {i % 5}", f"answer {i % 7} for {i}") for i in range(80)]
    data = prepare_pairs(tmp_path / "corpus", pairs, "samples.valid_fraction=0.2", "samples.test_fraction=0")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    settings = sum((["--set", s] for s in TINY_MODEL), [])
    command = [sys.executable, "-m", "deepqa", "train", "--data", str(data), "--run-name", "mw",
               *settings, "--set", f"train.save_dir={tmp_path / 'save'}", "--set", "train.epochs=2",
               "--set", "train.distribution=multi_worker"]
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
        workers.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=300)[0])
    finally:
        for worker in workers:
            worker.kill()
    assert [w.returncode for w in workers] == [0, 0], "\n\n".join(output[-3000:] for output in outputs)
    run = tmp_path / "save" / "mw"
    assert outputs[0].strip().splitlines()[-1] == str(run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and metrics["epochs_completed"] == 2
    assert (run / "best.weights.h5").is_file()
    assert sorted(p.name for p in (tmp_path / "save").iterdir()) == ["latest", "mw"]
