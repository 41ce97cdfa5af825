"""Training throughput: target tokens per second of the `quick` profile on the chitchat corpus, for
each architecture, against a naive Keras baseline of the same size measured in the same run.

deepqa: its own training step (length-bucketed batches, the quick profile's sampled softmax, XLA where
`auto` enables it). Baseline: `model.compile()` + `model.fit()` with full softmax on batches padded to
the maximum lengths, no bucketing, no XLA. Target: at least 2× the baseline for both architectures.
Each measurement runs in a fresh process, so that peak memory is its own. Prints one JSON line.

    python -m benchmarks.train_throughput [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import peak_memory_mib

ARCHITECTURES = ("lstm", "transformer")


def _dataset(data_dir: Path):
    from deepqa.config import load_config
    from deepqa.data.dataset import Dataset
    from deepqa.data.prepare import prepare

    if not (data_dir / "samples.npz").is_file():
        prepare(load_config(None, "quick"), data_dir)
    return Dataset.load(data_dir)


def _config(architecture: str, steps: int):
    from deepqa.config import load_config

    return load_config(None, "quick", [f"model.type={architecture}", f"train.steps_per_epoch={steps}",
                                       "train.probe_questions="])


def measure_deepqa(architecture: str, data_dir: Path, steps: int) -> dict:
    """Tokens per second of deepqa's own training step, after ``steps`` warm-up steps."""
    from deepqa.train.training import Trainer

    dataset = _dataset(data_dir)
    config = _config(architecture, steps)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, dataset, Path(run_dir))
        batches, _ = trainer._datasets()
        iterator = iter(batches)
        for _ in range(steps):  # warm-up: trace every bucket shape
            trainer._train_step(*next(iterator))
        tokens, started = 0.0, time.perf_counter()
        for _ in range(steps):
            tokens += float(trainer._train_step(*next(iterator))[2])
        seconds = time.perf_counter() - started
        parameters = trainer.model.count_params()
    return {"tokens_per_second": round(tokens / seconds, 1), "parameters": parameters, "xla": trainer.xla,
            "sampled_softmax": config.train.sampled_softmax, "peak_mib": peak_memory_mib()}


def measure_baseline(architecture: str, data_dir: Path, steps: int) -> dict:
    """Tokens per second of plain ``model.fit`` on fully padded batches, full softmax, no XLA."""
    import keras
    import numpy as np
    import tensorflow as tf

    from deepqa.train.input_pipeline import make_dataset
    from deepqa.train.losses import cross_entropy_sum, token_mask
    from deepqa.models import build_model

    dataset = _dataset(data_dir)
    config = _config(architecture, steps)
    samples, train = config.samples, config.train
    model = build_model(config, len(dataset.vocabulary))

    def masked_loss(targets, logits):
        targets = tf.cast(targets, tf.int32)  # fit() hands targets over as floats
        return cross_entropy_sum(logits, targets) / tf.maximum(tf.reduce_sum(token_mask(targets)), 1.0)

    model.compile(optimizer=keras.optimizers.Adam(train.learning_rate, global_clipnorm=train.clip_norm),
                  loss=masked_loss, jit_compile=False)
    split = dataset.samples.of_split("train")
    batches = make_dataset(split, train.batch_size, shuffle=True, seed=train.seed, buckets=1, fixed_shapes=True,
                           max_question_length=samples.max_question_length,
                           decoder_length=samples.decoder_length, repeat=True, drop_remainder=True)
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)  # warm-up
    started = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    tokens_per_example = float(np.mean(split.answer_lengths + 1))  # answer + <eos>; padding not counted
    return {"tokens_per_second": round(steps * train.batch_size * tokens_per_example / seconds, 1),
            "parameters": model.count_params(), "peak_mib": peak_memory_mib()}


def _in_fresh_process(kind: str, architecture: str, data_dir: Path, steps: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.train_throughput", "--one", kind, architecture,
               "--data", str(data_dir), "--steps", str(steps)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} {architecture} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--data", default="data/chitchat-quick", help="dataset of the quick profile (made if missing)")
    parser.add_argument("--steps", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "ARCHITECTURE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = Path(args.data)
    if args.one:
        kind, architecture = args.one
        measure = measure_deepqa if kind == "deepqa" else measure_baseline
        print(json.dumps(measure(architecture, data_dir, args.steps)))
        return
    steps = 20 if args.quick else 60
    _dataset(data_dir)
    line = {"benchmark": "train_throughput", "steps": steps}
    for architecture in ARCHITECTURES:
        ours = _in_fresh_process("deepqa", architecture, data_dir, steps)
        baseline = _in_fresh_process("baseline", architecture, data_dir, steps)
        line[architecture] = {"deepqa": ours, "baseline": baseline,
                              "ratio": round(ours["tokens_per_second"] / baseline["tokens_per_second"], 2),
                              "target_ratio": 2.0}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
