"""The first stage: corpus files → a dataset folder (vocabulary, samples, tokenizer model, stats, config).

Steps: read every configured source → normalize each turn → split by conversation → train the
tokenizer if it learns (sentencepiece) → tokenize every distinct turn → build the vocabulary from
the training split → encode → build samples → write the folder, each file atomically.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from deepqa import atomic
from deepqa.config import Config
from deepqa.data.corpus import SourceCorpus, read_corpus
from deepqa.errors import DatasetError
from deepqa.files import CONFIG_FILE, SAMPLES_FILE, STATS_FILE, VOCAB_FILE
from deepqa.data.sample_builder import BuildReport, EncodedConversation, build_samples
from deepqa.data.splits import SPLITS, TRAIN, assign_split, split_key
from deepqa.data.text import build_tokenizer
from deepqa.data.text.batch import split_texts
from deepqa.data.unknown_words import words_of
from deepqa.data.vocab import Vocabulary



def _percentiles(lengths: list[int]) -> dict:
    if not lengths:
        return {"p50": 0, "p90": 0, "p95": 0, "p99": 0, "max": 0}
    values = np.percentile(np.asarray(lengths), [50, 90, 95, 99])
    return {**{f"p{q}": float(v) for q, v in zip((50, 90, 95, 99), values)}, "max": int(max(lengths))}


def _repeat_counts(weight: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``count`` training conversations appears for a source weight: the whole part
    always, one more time with the probability of the fractional part."""
    whole, fraction = int(weight), weight - int(weight)
    return whole + (rng.random(count) < fraction).astype(np.int64)


def _output_dir(config: Config, out_dir: str | Path | None) -> Path:
    """The dataset folder to write: absent, empty, or a dataset that is replaced as a whole."""
    path = Path(out_dir or config.corpus.dataset_dir)
    if path.exists() and not path.is_dir():
        raise DatasetError(f"output {str(path)!r} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / VOCAB_FILE).is_file():
        raise DatasetError(f"output folder {str(path)!r} holds other files and no dataset; "
                           "choose an empty or new folder (a dataset folder is replaced as a whole)")
    return path


DROP_REASONS = {
    "empty": "the question or the answer had no token",
    "too_long": "longer than [samples] max_question_length / max_answer_length, with length_policy = drop",
    "unk_answer": "the answer had more <unk> than [samples] max_unk_ratio allows",
    "duplicate": "an exact duplicate of a kept pair (drop_duplicates)",
}


def _no_samples_message(report: BuildReport) -> str:
    if not report.candidates:
        return ("no sample: the corpus has no (question, answer) pair, since no conversation has two turns "
                "(check [corpus] format and the file)")
    reasons = "; ".join(f"{count} dropped because {DROP_REASONS.get(reason, reason)}"
                        for reason, count in sorted(report.dropped.items(), key=lambda item: -item[1]) if count)
    return f"no sample survived the filters: of {report.candidates} pairs, {reasons}"


def prepare(config: Config, out_dir: str | Path | None = None) -> dict:
    """Run the whole preparation and return the statistics also written to ``stats.json``. The dataset folder
    is written beside its place and swapped in when complete, so a failure leaves the old dataset intact."""
    target = _output_dir(config, out_dir)
    with atomic.replaced_folder(target) as out:
        return _prepare_into(config, out)


def _prepare_into(config: Config, out: Path) -> dict:
    started = time.perf_counter()
    tokenizer = build_tokenizer(config.tokenizer)  # fails early on a bad tokenizer setting
    corpora: list[SourceCorpus] = read_corpus(config)
    samples_config = config.samples

    # Normalize every turn once; split and weight by conversation.
    normalized: list[list[str]] = []
    splits: list[int] = []
    sources: list[int] = []
    repeats: list[int] = []
    rng = np.random.default_rng(samples_config.seed)
    for source_index, corpus in enumerate(corpora):
        start = len(normalized)
        for turns in corpus.conversations:
            normalized.append([tokenizer.normalize(turn) for turn in turns])
            splits.append(assign_split(split_key(normalized[-1]), samples_config.valid_fraction,
                                       samples_config.test_fraction, samples_config.seed))
            sources.append(source_index)
        train = np.asarray(splits[start:]) == TRAIN
        counts = np.ones(len(train), dtype=np.int64)
        counts[train] = _repeat_counts(corpus.weight, int(train.sum()), rng)
        repeats.extend(counts.tolist())

    train_texts = [turn for turns, split in zip(normalized, splits) if split == TRAIN for turn in turns]
    tokenizer.fit(train_texts, out)
    tokenizer.save(out)

    distinct = list(dict.fromkeys(turn for turns in normalized for turn in turns))
    tokens_of = dict(zip(distinct, split_texts(tokenizer, distinct, out, config.tokenizer.workers)))

    counts_by_split = [Counter() for _ in SPLITS]
    for turns, split in zip(normalized, splits):
        for turn in turns:
            counts_by_split[split].update(tokens_of[turn])
    vocabulary = Vocabulary.build(counts_by_split[TRAIN], config.vocab.min_count, config.vocab.max_size)
    if len(vocabulary) <= 4:
        raise DatasetError("the training split has no tokens: the corpus is empty after normalization")

    ids_of = {text: vocabulary.encode(tokens) for text, tokens in tokens_of.items()}
    unknown_of = {text: words_of(tokens_of[text], ids) for text, ids in ids_of.items()}
    text_id = {text: index for index, text in enumerate(distinct)}
    encoded = [EncodedConversation([ids_of[turn] for turn in turns], [text_id[turn] for turn in turns],
                                   split, source, repeat, [unknown_of[turn] for turn in turns])
               for turns, split, source, repeat in zip(normalized, splits, sources, repeats)]
    meta = {"fingerprint": vocabulary.fingerprint, "vocab_size": len(vocabulary),
            "sources": [corpus.name for corpus in corpora], "splits": list(SPLITS)}
    samples, report = build_samples(encoded, samples_config, meta)
    if len(samples) == 0:
        raise DatasetError(_no_samples_message(report))

    stats = _stats(config, corpora, normalized, splits, vocabulary, counts_by_split, samples, report,
                   time.perf_counter() - started)
    samples.save(out / SAMPLES_FILE)
    vocabulary.save(out / VOCAB_FILE, tokenizer=config.tokenizer.type)
    config.save(out / CONFIG_FILE)
    atomic.write_json(out / STATS_FILE, stats)
    return stats


def _stats(config: Config, corpora: list[SourceCorpus], normalized: list[list[str]], splits: list[int],
           vocabulary: Vocabulary, counts_by_split: list[Counter], samples, report: BuildReport,
           seconds: float) -> dict:
    split_array = np.asarray(splits)
    per_source = {}
    for index, corpus in enumerate(corpora):
        source_train = (samples.source == index) & (samples.split == TRAIN)
        per_source[corpus.name] = {**asdict(corpus.stats), "weight": corpus.weight,
                                   "train_samples": int(source_train.sum())}
    return {
        "tokenizer": config.tokenizer.type,
        "conversations": len(normalized),
        "conversations_with_samples": len(np.unique(samples.conversation)),
        "turns": sum(len(turns) for turns in normalized),
        "sources": per_source,
        "pairs": {
            "candidates": report.candidates,
            "kept": len(samples),
            "dropped": dict(report.dropped),
            "truncated": {"question": report.truncated_questions, "answer": report.truncated_answers},
        },
        "splits": {name: {"conversations": int((split_array == index).sum()),
                          "samples": int((samples.split == index).sum())} for index, name in enumerate(SPLITS)},
        "vocabulary": {
            "size": len(vocabulary),
            "distinct_train_tokens": len(counts_by_split[TRAIN]),
            "coverage": {name: round(vocabulary.coverage(counts), 6) for name, counts in zip(SPLITS, counts_by_split)},
        },
        "lengths": {"question": _percentiles(report.question_lengths), "answer": _percentiles(report.answer_lengths)},
        "seconds": round(seconds, 3),
        "pairs_per_second": round(report.candidates / seconds, 1) if seconds else None,
    }
