"""Preparation speed: pairs per second and peak memory for the whole chitchat corpus (word tokenizer)
and for dgk-conv (about 216,000 pairs, jieba).

Each case runs twice in fresh processes: as configured (``workers = 0``: jieba segmentation of a
large corpus spread over the CPUs, fast tokenizers in one process), and as a baseline forced to one
tokenizing process. Targets on a 2-core machine: chitchat in at most 20 s,
dgk-conv in at most 60 s. Prints one JSON line.

    python -m benchmarks.prepare [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from benchmarks.common import SHARED_DATASETS, peak_memory_mib

CASES = {
    "chitchat_word": {"settings": [], "target_seconds": 20},
    "dgk_conv_jieba": {"settings": ["corpus.format=conv", f"corpus.path={SHARED_DATASETS / 'dgk-conv'}",
                                    "tokenizer.type=jieba"], "target_seconds": 60},
}


def run_one(settings: list[str], workers: int) -> dict:
    """Prepare once in this process and return its figures."""
    from deepqa.config import load_config
    from deepqa.data.prepare import prepare

    config = load_config(None, None, [*settings, f"tokenizer.workers={workers}"])
    with tempfile.TemporaryDirectory() as out:
        stats = prepare(config, out)
    return {"pairs": stats["pairs"]["candidates"], "seconds": stats["seconds"],
            "pairs_per_second": stats["pairs_per_second"], "peak_mib": peak_memory_mib()}


def measure(settings: list[str], workers: int) -> dict:
    """Run :func:`run_one` in a fresh interpreter, so that memory and caches start clean."""
    command = [sys.executable, "-m", "benchmarks.prepare", "--one", json.dumps(settings), "--workers", str(workers)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the first 1,000 conversations of each corpus")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(json.loads(args.one), args.workers)))
        return
    line = {"benchmark": "prepare"}
    for name, case in CASES.items():
        settings = case["settings"] + (["corpus.max_conversations=1000"] if args.quick else [])
        if "dgk" in name and not SHARED_DATASETS.is_dir():
            line[name] = {"skipped": f"{SHARED_DATASETS} not found"}
            continue
        figure = measure(settings, workers=0)
        baseline = measure(settings, workers=1)
        line[name] = {**figure, "target_seconds": case["target_seconds"],
                      "baseline_one_process": baseline,
                      "ratio_vs_baseline": round(figure["pairs_per_second"] / baseline["pairs_per_second"], 2),
                      "meets_target": figure["seconds"] <= case["target_seconds"]}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
