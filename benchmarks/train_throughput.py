"""Training throughput: target tokens per second of the `quick` profile on the chitchat corpus, for
each architecture, against a naive Keras baseline of the same size measured in the same run.

deepqa: its own training step (length-bucketed batches, the quick profile's sampled softmax, XLA where
`auto` enables it). Baseline: `model.compile()` + `model.fit()` with full softmax on batches padded to
the maximum lengths, no bucketing, no XLA. Target: at least 2× the baseline for both architectures.
Each measurement runs in a fresh process, so that peak memory is its own. Prints one JSON line.

Share of the machine's peak: the FLOP/s deepqa's step achieves, counted from the model's shapes (2 FLOPs per
kernel weight per position it is applied at, the sampled or full softmax, attention scores and sums; backward
twice forward) and from each timed batch's own padded shapes, beside the FLOP/s of a large float32 matrix
multiplication measured in the same process on the same cores: the practical ceiling of this machine.

With ``--profile``, each architecture's line also gives where its step's time goes: a TensorFlow profiler
trace of as many steps again after the timed ones, with the time of every op type on the executor's
threads as a share of them all.

    python -m benchmarks.train_throughput [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

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


def op_time_shares(trace_dir: Path, top: int = 12) -> dict[str, float]:
    """The ``top`` op types of the profiler trace in ``trace_dir`` by their time on TensorFlow's executor
    threads, each as a share of all ops' time there (the rest summed as ``other``)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    times: Counter[str] = Counter()
    for path in trace_dir.rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    metadata = plane.event_metadata[event.metadata_id]
                    if ":" in metadata.name and metadata.display_name:  # "scope/name:OpType", an op's run
                        times[metadata.display_name] += event.duration_ps
    total = sum(times.values()) or 1
    leading = times.most_common(top)
    shares = {op: round(time_ps / total, 3) for op, time_ps in leading}
    shares["other"] = round((total - sum(time_ps for _, time_ps in leading)) / total, 3) if times else 1.0
    return shares


def measure_deepqa(architecture: str, data_dir: Path, steps: int, profile: bool = False) -> dict:
    """Tokens per second of deepqa's own training step, after ``steps`` warm-up steps; with ``profile``, the
    time of as many further steps by op type as well (:func:`op_time_shares`)."""
    import tensorflow as tf

    from deepqa.train.training import Trainer

    dataset = _dataset(data_dir)
    config = _config(architecture, steps)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, dataset, Path(run_dir))
        batches, _ = trainer._datasets()
        iterator = iter(batches)
        for _ in range(steps):  # warm-up: trace every bucket shape
            trainer._train_step(*next(iterator))
        tokens, flops, seconds = 0.0, 0.0, 0.0
        for _ in range(steps):
            inputs, targets = next(iterator)
            started = time.perf_counter()
            tokens += float(trainer._train_step(inputs, targets)[2])
            seconds += time.perf_counter() - started
            flops += training_flops(trainer.model, config, *inputs["encoder_ids"].shape, inputs["decoder_ids"].shape[1])
        parameters = trainer.model.count_params()
        if profile:  # further steps, so that the profiler's overhead stays out of the timing
            tf.profiler.experimental.start(str(Path(run_dir) / "trace"))
            for _ in range(steps):
                trainer._train_step(*next(iterator))
            tf.profiler.experimental.stop()
            time_by_op = op_time_shares(Path(run_dir) / "trace")
    achieved, ceiling = flops / seconds, matmul_flops_per_second()
    line = {"tokens_per_second": round(tokens / seconds, 1), "parameters": parameters, "xla": trainer.xla,
            "sampled_softmax": config.train.sampled_softmax, "achieved_gflops": round(achieved / 1e9, 2),
            "matmul_gflops": round(ceiling / 1e9, 2), "share_of_matmul_peak": round(achieved / ceiling, 3),
            "peak_mib": peak_memory_mib()}
    return {"time_by_op": time_by_op, **line} if profile else line


def training_flops(model, config, batch: int, question_length: int, answer_length: int) -> float:
    """FLOPs of one training step (forward and backward) on a batch of these padded shapes, from the model's
    kernels: every kernel weight costs 2 FLOPs per position it is applied at (encoder kernels at each question
    position, the others at each answer position), plus the softmax's projection and the attention's scores
    and weighted sums; backward costs twice forward."""
    forward = 0.0
    width = config.lstm.units if config.model.type != "transformer" else config.model.embedding_dim
    for variable in model.trainable_variables:
        path, size = variable.path, float(np.prod(variable.shape))
        if len(variable.shape) < 2 or "embedding" in path or "/output/" in path:
            continue
        if "bridge" in path:
            forward += 2 * size  # once per example: the encoder's final states
        else:
            forward += 2 * size * (question_length if "encoder" in path or path.endswith("/key/kernel") else answer_length)
    classes = config.train.sampled_softmax or model.vocab_size
    forward += 2 * width * classes * answer_length
    if config.model.type == "transformer":
        encoder, decoder = config.transformer.encoder_layers, config.transformer.decoder_layers
        forward += 4 * width * (encoder * question_length ** 2 + decoder * (answer_length ** 2
                                                                          + answer_length * question_length))
    else:
        values = width * (2 if config.lstm.bidirectional else 1)
        forward += 2 * answer_length * question_length * (width + values)
    return 3 * forward * batch


def matmul_flops_per_second(size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a float32 [size, size] x [size, size] matrix multiplication on this machine's cores."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    product = tf.function(lambda x, y: tf.reduce_sum(tf.linalg.matmul(x, y)))
    product(a, b).numpy()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        product(a, b).numpy()
    return 2 * size ** 3 * repeats / (time.perf_counter() - started)


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


def _in_fresh_process(kind: str, architecture: str, data_dir: Path, steps: int, profile: bool = False) -> dict:
    command = [sys.executable, "-m", "benchmarks.train_throughput", "--one", kind, architecture,
               "--data", str(data_dir), "--steps", str(steps), *(["--profile"] if profile else [])]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} {architecture} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--profile", action="store_true", help="also the share of each op type in deepqa's step")
    parser.add_argument("--data", default="data/chitchat-quick", help="dataset of the quick profile (made if missing)")
    parser.add_argument("--steps", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "ARCHITECTURE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = Path(args.data)
    if args.one:
        kind, architecture = args.one
        print(json.dumps(measure_deepqa(architecture, data_dir, args.steps, args.profile) if kind == "deepqa"
                         else measure_baseline(architecture, data_dir, args.steps)))
        return
    steps = 20 if args.quick else 60
    _dataset(data_dir)
    line = {"benchmark": "train_throughput", "steps": steps}
    for architecture in ARCHITECTURES:
        ours = _in_fresh_process("deepqa", architecture, data_dir, steps, args.profile)
        baseline = _in_fresh_process("baseline", architecture, data_dir, steps)
        line[architecture] = {"deepqa": ours, "baseline": baseline,
                              "ratio": round(ours["tokens_per_second"] / baseline["tokens_per_second"], 2),
                              "target_ratio": 2.0}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
