"""Time to quality: which generator recipe learns most in the same wall-clock budget on this machine?

Each candidate is the `quick` profile with one change (architecture and width, vocabulary size, word or
sentencepiece pieces, sampled-softmax size, learning rate, label smoothing, context turns), trained for the
same budget on the same corpus in a fresh process (`deepqa train`, ranker off), then measured. One JSON line a
candidate:

- steps and target tokens per second of its training;
- validation loss in bits per character of the reference answers (the full-softmax validation loss of its
  best epoch, summed over the validation answers' tokens and divided by their characters), so that word and
  sentencepiece vocabularies compare fairly; an answer's out-of-vocabulary word counts as one character, as a
  word model predicts it as one `<unk>` token;
- 1-in-10 R@1 on the test split by generator likelihood and by MMI (lambda 0.5);
- distinct-2, most frequent reply share and average length of its beam replies to test questions.

The baseline is the unchanged `quick` profile, measured in the same run; `bpc_vs_baseline` is each
candidate's bits per character over the baseline's.

    python -m benchmarks.time_to_quality                         # 12 minutes a candidate, chitchat and dgk-conv
    python -m benchmarks.time_to_quality --budget-minutes 4 --corpus chitchat --candidates baseline,transformer
    python -m benchmarks.time_to_quality --quick                 # a smoke run: tiny profile, seconds a candidate
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import PROJECT_ROOT, SHARED_DATASETS
from deepqa.files import METRICS_FILE

# Each candidate: settings of the prepared data (a dataset is made once per distinct set) and of training.
CANDIDATES: dict[str, dict[str, list[str]]] = {
    "baseline": {"data": [], "train": []},
    "lstm_512": {"data": [], "train": ["lstm.units=512"]},
    "lstm_512_dropout_0.3": {"data": [], "train": ["lstm.units=512", "model.dropout=0.3"]},
    "transformer": {"data": [], "train": ["model.type=transformer"]},
    "transformer_256": {"data": [], "train": ["model.type=transformer", "model.embedding_dim=256",
                                              "transformer.feedforward_dim=512"]},
    "vocab_16000": {"data": ["vocab.max_size=16000"], "train": []},
    "sentencepiece_8000": {"data": ["tokenizer.type=sentencepiece", "tokenizer.sp_vocab_size=8000"], "train": []},
    "sampled_softmax_2048": {"data": [], "train": ["train.sampled_softmax=2048"]},
    "full_softmax": {"data": [], "train": ["train.sampled_softmax=0"]},
    "learning_rate_0.004": {"data": [], "train": ["train.learning_rate=0.004"]},
    "learning_rate_0.002": {"data": [], "train": ["train.learning_rate=0.002"]},  # the quick profile's former rate
    "learning_rate_0.016": {"data": [], "train": ["train.learning_rate=0.016"]},
    "transformer_lr_0.004": {"data": [], "train": ["model.type=transformer", "train.learning_rate=0.004"]},
    "transformer_lr_0.004_bfloat16": {"data": [], "train": ["model.type=transformer", "train.learning_rate=0.004",
                                                            "train.mixed_precision=bfloat16"]},
    "label_smoothing_0.1": {"data": [], "train": ["train.label_smoothing=0.1"]},
    "schedule_linear": {"data": [], "train": ["train.schedule=warmup_linear"]},
    "dropout_0": {"data": [], "train": ["model.dropout=0"]},
    "dropout_0.3": {"data": [], "train": ["model.dropout=0.3"]},
    "bfloat16": {"data": [], "train": ["train.mixed_precision=bfloat16"]},
    "linear_dropout_0_bfloat16": {"data": [], "train": ["train.schedule=warmup_linear", "model.dropout=0",
                                                        "train.mixed_precision=bfloat16"]},
    "tied_output": {"data": [], "train": ["lstm.tie_output_embedding=true"]},
    "tied_output_embedding_256": {"data": [], "train": ["lstm.tie_output_embedding=true", "model.embedding_dim=256"]},
    "context_0": {"data": ["samples.context_turns=0"], "train": []},
}
CORPORA = {
    "chitchat": {"settings": [], "candidates": list(CANDIDATES)},
    "dgk_conv_jieba": {"settings": ["corpus.format=conv", f"corpus.path={SHARED_DATASETS / 'dgk-conv'}",
                                    "tokenizer.type=jieba"],
                       "candidates": ["baseline", "learning_rate_0.002", "lstm_512", "transformer", "transformer_256",
                                      "sentencepiece_8000"]},
}
# The candidates' settings are the quick profile's but for the budget and the ranker.
TRAINING = ["ranker.enabled=false", "train.probe_questions=", "train.epochs=100000", "train.early_stopping_patience=0"]


def _deepqa(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "deepqa", *arguments], cwd=PROJECT_ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def _sets(settings: list[str]) -> list[str]:
    return sum((["--set", item] for item in settings), [])


def dataset_for(settings: list[str], profile: str, work: Path) -> Path:
    """The dataset prepared with ``settings`` (made once, kept in ``work`` for later runs)."""
    folder = work / ("data-" + hashlib.sha256("\n".join([profile, *settings]).encode()).hexdigest()[:12])
    if not (folder / "samples.npz").is_file():
        _deepqa("prepare", "--profile", profile, *_sets(settings), "--out", str(folder))
    return folder


def finished(run: Path) -> bool:
    """Whether ``run`` holds a training that ran to its end (not one cut off while running)."""
    try:
        return json.loads((run / METRICS_FILE).read_text()).get("stopped") not in (None, "running")
    except (OSError, ValueError):
        return False


def train(name: str, data: Path, settings: list[str], profile: str, minutes: float, work: Path,
          reuse: bool = False) -> Path:
    """Train ``settings`` on ``data`` for ``minutes`` in a fresh process; the run folder.

    With ``reuse``, a run of the same name and budget that an earlier invocation finished is kept as it is.
    """
    save = work / "save"
    if reuse and finished(save / name):
        return save / name
    shutil.rmtree(save / name, ignore_errors=True)  # an earlier benchmark's run of the same name
    _deepqa("train", "--profile", profile, "--data", str(data), *_sets([*TRAINING, f"train.max_minutes={minutes}",
                                                                        f"train.save_dir={save}", *settings]),
            "--run-name", name)
    return save / name


def bits_per_character(bot, dataset, best_val_loss: float) -> float:
    """The validation loss (nats a target token, ``<eos>`` included) as bits a character of the answers."""
    valid = dataset.samples.of_split("valid")
    tokens = characters = 0
    for index in range(len(valid)):
        ids = valid.answer(index)
        tokens += len(ids) + 1
        words = ["?" if word == "<unk>" else word for word in bot.vocabulary.decode(ids)]
        characters += len(bot.tokenizer.detokenize(words)) + 1  # + 1: the end of the answer
    return best_val_loss * tokens / math.log(2) / characters


def steps_per_epoch(train, dataset) -> int:
    """Batches in one of the run's epochs: ``steps_per_epoch``, else one pass over the training split."""
    return train.steps_per_epoch or math.ceil(len(dataset.samples.of_split("train")) / train.batch_size)


def measure(name: str, corpus: str, run: Path, cases: int, replies: int) -> dict:
    """The JSON line of one trained candidate."""
    from benchmarks.reply_quality import reply_figures
    from deepqa.evaluate.evaluation import cases_from_dataset, dataset_of, selection_scores
    from deepqa.evaluate.selection import recall_report
    from deepqa.inference.chatbot import Chatbot

    bot = Chatbot.load(run, overrides=["decode.mode=generate", "decode.strategy=beam"])
    dataset = dataset_of(bot, None, required=True)
    metrics = bot.metrics
    history = metrics.get("history", [])
    test_cases = cases_from_dataset(bot, dataset, cases, 9, 1234)
    r1 = lambda scores: round(recall_report(scores)["1_in_10_R@1"], 4)  # noqa: E731
    beam = reply_figures(bot, dataset, replies)
    return {
        "benchmark": "time_to_quality", "corpus": corpus, "candidate": name, "settings": CANDIDATES[name],
        "epochs": len(history), "steps": len(history) * steps_per_epoch(bot.config.train, dataset),
        "tokens_per_second": round(float(np.mean([entry["tokens_per_second"] for entry in history])), 1),
        "train_seconds": round(sum(entry["seconds"] for entry in history), 1),
        "parameters": int(bot.model.count_params()), "vocabulary": len(bot.vocabulary),
        "best_val_loss_nats_per_token": round(metrics["best_val_loss"], 4),
        "val_bits_per_character": round(bits_per_character(bot, dataset, metrics["best_val_loss"]), 4),
        "r1_likelihood": r1(selection_scores(bot.likelihood, test_cases, 0.0)),
        "r1_mmi": r1(selection_scores(bot.likelihood, test_cases, 0.5)),
        "beam_distinct_2": beam["distinct_2"], "beam_most_frequent_reply_share": beam["most_frequent_reply_share"],
        "beam_most_frequent_reply": beam["most_frequent_reply"], "beam_average_length": beam["average_length"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-minutes", type=float, default=12.0, help="training time of each candidate")
    parser.add_argument("--corpus", choices=[*CORPORA, "all"], default="all")
    parser.add_argument("--candidates", help=f"comma-separated names (default: the corpus's); known: {', '.join(CANDIDATES)}")
    parser.add_argument("--work", default="data/time-to-quality", help="where datasets and runs are kept")
    parser.add_argument("--quick", action="store_true", help="a smoke run: the tiny profile, a few seconds each")
    parser.add_argument("--reuse", action="store_true",
                        help="measure again, without retraining, the candidates that an earlier invocation "
                             "finished at the same budget")
    args = parser.parse_args()
    chosen = args.candidates.split(",") if args.candidates else None
    unknown = sorted(set(chosen or []) - set(CANDIDATES))
    if unknown:
        parser.error(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES)}")
    profile, minutes = ("tiny", 0.2) if args.quick else ("quick", args.budget_minutes)
    cases, replies = (100, 50) if args.quick else (500, 300)
    work = Path(args.work)
    for corpus in (list(CORPORA) if args.corpus == "all" else [args.corpus]):
        if corpus != "chitchat" and not (SHARED_DATASETS / "dgk-conv").is_dir():
            print(json.dumps({"benchmark": "time_to_quality", "corpus": corpus, "skipped": "dgk-conv is not there"}))
            continue
        baseline_bpc = None
        names = [name for name in CORPORA[corpus]["candidates"] if chosen is None or name in chosen]
        for name in (["baseline"] if "baseline" not in names else []) + names:  # the baseline first, always
            candidate = CANDIDATES[name]
            data = dataset_for(CORPORA[corpus]["settings"] + candidate["data"], profile, work / corpus)
            run = train(name, data, candidate["train"], profile, minutes, work / corpus / f"{minutes:g}min",
                        args.reuse)
            line = measure(name, corpus, run, cases, replies)
            line["budget_minutes"] = minutes
            baseline_bpc = baseline_bpc or line["val_bits_per_character"]
            line["bpc_vs_baseline"] = round(line["val_bits_per_character"] / baseline_bpc, 4)
            print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
