"""Reply quality: does the default reply path fit the question better than lexical retrieval, and are its
replies varied? One JSON line per corpus, for the `quick` profile on chitchat (English words) and on
dgk-conv (Chinese, jieba), with today's former reply path (beam search, generator likelihood) measured
from the same run as the baseline.

Figures: 1-in-10 R@1 on the test split of the default reply scorer (hybrid: ranker + weighted generator
PMI; rank: ranker; generate: generator likelihood) beside generator likelihood, the ranker, TF-IDF and
BM25; for chitchat also on cases built from another corpus (`cornell-sample`); distinct-2, most frequent
reply share and average length of the default mode's replies to 500 test questions, and of the beam's;
p50 latency of one reply in the default mode and with the beam; seconds the ranker added to training.
Targets: R@1 >= TF-IDF + 0.15; cross-corpus R@1 >= TF-IDF's; distinct-2 >= 0.30, most frequent <= 3 %,
average length >= 6; p50 <= 60 ms; ranker training <= 300 s.

    python -m benchmarks.reply_quality                      # prepares and trains both runs (about 40 min)
    python -m benchmarks.reply_quality --run chitchat=save/latest --corpus chitchat
    python -m benchmarks.reply_quality --quick              # a smoke run on tiny models
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import PROJECT_ROOT, SHARED_DATASETS, peak_memory_mib

CORPORA = {
    "chitchat": {"settings": [], "cross_corpus": "cornell-sample"},
    "dgk_conv_jieba": {"settings": ["corpus.format=conv", f"corpus.path={SHARED_DATASETS / 'dgk-conv'}",
                                    "tokenizer.type=jieba"], "cross_corpus": None},
}
TARGETS = {"r1_over_tfidf": ">= 0.15", "cross_corpus_r1_over_tfidf": ">= 0", "distinct_2": ">= 0.30",
           "most_frequent_reply_share": "<= 0.03", "average_length": ">= 6", "p50_ms": "<= 60",
           "ranker_train_seconds": "<= 300"}
LATENCY_QUESTIONS = 60


def train_run(name: str, settings: list[str], profile: str, work: Path) -> Path:
    """Prepare the corpus and train generator and ranker with ``profile`` in fresh processes; the run folder."""
    arguments = sum((["--set", s] for s in settings), [])
    data, save = work / f"data-{name}", work / f"save-{name}"
    save_setting = ["--set", f"train.save_dir={save}"]
    for command in (["prepare", "--profile", profile, *arguments, "--out", str(data)],
                    ["train", "--profile", profile, *arguments, *save_setting, "--data", str(data),
                     "--run-name", name]):
        subprocess.run([sys.executable, "-m", "deepqa", *command], cwd=PROJECT_ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    return save / name


def cross_corpus_cases(bot, folder: Path, count: int):
    """Response-selection cases from another corpus (Cornell format), encoded for ``bot``."""
    from deepqa.config import SourceConfig
    from deepqa.data.corpus import read_source
    from deepqa.evaluate.evaluation import encode_cases
    from deepqa.evaluate.selection import cases_from_conversations

    conversations = read_source("cross-corpus", SourceConfig(format="cornell", path=str(folder))).conversations
    cases = cases_from_conversations(conversations, bot.config.samples.context_turns, count, 9, seed=1234)
    return encode_cases(bot, cases)


def selection(bot, cases, mode: str) -> dict:
    """1-in-10 R@1 of every scorer on ``cases``, and of the scorer behind ``mode``."""
    from deepqa.evaluate.evaluation import (hybrid_selection_scores, lexical_scores, ranker_scores,
                                            selection_scores)
    from deepqa.evaluate.selection import Bm25Ranker, TfidfRanker, recall_report

    r1 = lambda scores: round(recall_report(scores)["1_in_10_R@1"], 4)  # noqa: E731
    figures = {"generator": r1(selection_scores(bot.likelihood, cases, 0.0)),
               "ranker": r1(ranker_scores(bot, cases)),
               "tfidf": r1(lexical_scores(cases, TfidfRanker)), "bm25": r1(lexical_scores(cases, Bm25Ranker))}
    weight = bot.config.decode.hybrid_generator_weight
    figures["hybrid"] = r1(hybrid_selection_scores(bot, cases, weight)) if weight else figures["ranker"]
    figures["default"] = figures[{"generate": "generator", "rank": "ranker", "hybrid": "hybrid"}[mode]]
    return figures


def reply_figures(bot, dataset, replies: int) -> dict:
    """Variety and length of the bot's replies (its configured mode) to ``replies`` test questions."""
    from deepqa.evaluate.evaluation import generation_report

    report = generation_report(bot, bot.likelihood, dataset, 1, replies, 64, 1234)
    return {key: (round(report[key], 4) if isinstance(report[key], float) else report[key])
            for key in ("generated", "distinct_1", "distinct_2", "average_length", "most_frequent_reply_share",
                        "most_frequent_reply", "bleu", "decoding")}


def latency_p50_ms(bot, questions: list[tuple[str, list[str]]]) -> float:
    """p50 milliseconds of one reply (one question and its context at a time), after a warm-up."""
    bot.reply(*questions[0])
    times = []
    for question, context in questions:
        started = time.perf_counter()
        bot.reply(question, context)
        times.append(1000 * (time.perf_counter() - started))
    return round(float(np.percentile(times, 50)), 2)


def measure(name: str, run: Path, replies: int, cases: int, overrides: list[str]) -> dict:
    """The JSON line of one corpus from its trained run, its run-time settings changed by ``overrides``."""
    from deepqa.evaluate.evaluation import cases_from_dataset, dataset_of, describe_reply_mode, turns_of
    from deepqa.inference.chatbot import Chatbot

    bot = Chatbot.load(run, overrides=overrides)
    baseline = Chatbot.load(run, overrides=[*overrides, "decode.mode=generate", "decode.strategy=beam"])
    options = bot.check_options(bot.config.decode)
    mode = options.mode
    dataset = dataset_of(bot, None, required=True)
    test_cases = cases_from_dataset(bot, dataset, cases, 9, 1234)
    line = {"benchmark": "reply_quality", "corpus": name, "run": str(run), "overrides": overrides, "mode": mode,
            "reply_path": describe_reply_mode(options), "cases": len(test_cases),
            "r1": selection(bot, test_cases, mode)}
    line["r1_over_tfidf"] = round(line["r1"]["default"] - line["r1"]["tfidf"], 4)
    line["baseline_r1"] = line["r1"]["generator"]
    cross = CORPORA[name]["cross_corpus"]
    if cross and (SHARED_DATASETS / cross).is_dir():
        other = cross_corpus_cases(bot, SHARED_DATASETS / cross, cases)
        line["cross_corpus"] = {"corpus": cross, "cases": len(other), "r1": selection(bot, other, mode)}
        line["cross_corpus_r1_over_tfidf"] = round(line["cross_corpus"]["r1"]["default"]
                                                   - line["cross_corpus"]["r1"]["tfidf"], 4)
    line["replies"] = reply_figures(bot, dataset, replies)
    line["baseline_replies"] = reply_figures(baseline, dataset, replies)
    test = dataset.samples.of_split("test")
    questions = [turns_of(bot, test.question(i)) for i in range(min(LATENCY_QUESTIONS, len(test)))]
    line["p50_ms"] = latency_p50_ms(bot, questions)
    line["baseline_p50_ms"] = latency_p50_ms(baseline, questions)
    line["p50_ratio"] = round(line["p50_ms"] / line["baseline_p50_ms"], 2)
    generator_seconds = sum(entry.get("seconds", 0.0) for entry in bot.metrics.get("history", []))
    ranker = json.loads((bot.run_dir / "ranker.json").read_text(encoding="utf-8")) if bot.ranker else {}
    line["ranker_train_seconds"] = ranker.get("seconds")
    line["generator_train_seconds"] = round(generator_seconds, 1)
    line["ranker_over_generator_time"] = (round(ranker["seconds"] / generator_seconds, 3)
                                          if ranker and generator_seconds else None)
    line["targets"] = TARGETS
    line["peak_mib"] = peak_memory_mib()
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=[*CORPORA, "all"], default="all", help="which corpus (default: all)")
    parser.add_argument("--run", action="append", default=[], metavar="CORPUS=RUN",
                        help="measure this trained run instead of training one (repeatable)")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="SECTION.KEY=VALUE",
                        help="change a run-time setting ([decode] [eval]) of the measured runs, e.g. decode.mode=rank")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: the tiny profile, 60 replies and 200 cases")
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.run)
    unknown = set(given) - set(CORPORA)
    if unknown:
        parser.error(f"--run names unknown corpora {sorted(unknown)}; known: {', '.join(CORPORA)}")
    names = list(CORPORA) if args.corpus == "all" else [args.corpus]
    replies, cases = (60, 200) if args.quick else (500, 5000)  # 5,000 cases: R@1 within about 0.007
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            if name in given:
                run = Path(given[name])
            else:
                settings = CORPORA[name]["settings"] + (["ranker.enabled=true"] if args.quick else [])
                if name != "chitchat" and not (SHARED_DATASETS / "dgk-conv").is_dir():
                    print(json.dumps({"benchmark": "reply_quality", "corpus": name,
                                      "skipped": f"{SHARED_DATASETS / 'dgk-conv'} is not there"}))
                    continue
                run = train_run(name, settings, "tiny" if args.quick else "quick", Path(work))
            print(json.dumps(measure(name, run, replies, cases, args.overrides), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
