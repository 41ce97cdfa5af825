"""`deepqa prepare` end to end on small corpora written here, through the API and the command line."""

import json
import subprocess
import sys

import numpy as np
import pytest

from deepqa.cli import main
from deepqa.data.dataset import Dataset
from deepqa.errors import DatasetError
from deepqa.data.prepare import prepare
from deepqa.data.splits import TRAIN
from tests.conftest import PROJECT_ROOT, make_config

ENGLISH_PAIRS = [(f"question number {i} about topic {i % 7}?", f"Answer {i}: topic {i % 7} is fine.") for i in range(120)]


def write_pairs(path, pairs, extra_lines=()):
    path.write_text("\n".join([f"{q}\t{a}" for q, a in pairs] + list(extra_lines)) + "\n", encoding="utf-8")
    return path


def write_conv(path, conversations):
    path.write_text("".join("E\n" + "".join(f"M {t}\n" for t in turns) for turns in conversations), encoding="utf-8")
    return path


def test_prepare_writes_a_complete_consistent_dataset(tmp_path):
    corpus = write_pairs(tmp_path / "pairs.tsv", ENGLISH_PAIRS, ["broken line", "x\ty\tz"])
    config = make_config("corpus.format=pairs", f"corpus.path={corpus}", "vocab.max_size=40",
                         "samples.valid_fraction=0.1", "samples.test_fraction=0.1")
    stats = prepare(config, tmp_path / "out")
    for name in ("vocab.json", "samples.npz", "stats.json", "config.ini"):
        assert (tmp_path / "out" / name).is_file()
    assert not list((tmp_path / "out").glob(".*.tmp"))
    assert stats["sources"]["corpus"]["skipped"] == 2
    assert stats["sources"]["corpus"]["skipped_examples"][0].startswith("pairs.tsv:121")
    assert stats["pairs"]["candidates"] == 120 and stats["pairs"]["kept"] == 120
    assert sum(s["samples"] for s in stats["splits"].values()) == 120
    assert stats["splits"]["valid"]["samples"] > 0 and stats["splits"]["test"]["samples"] > 0
    assert stats["vocabulary"]["size"] == 40 and 0 < stats["vocabulary"]["coverage"]["train"] < 1
    assert set(stats["lengths"]["question"]) == {"p50", "p90", "p95", "p99", "max"}
    dataset = Dataset.load(tmp_path / "out")
    assert len(dataset.samples) == 120 and dataset.config.vocab.max_size == 40
    first = dataset.samples.of_split("train")
    question = dataset.tokenizer.detokenize(dataset.vocabulary.decode(first.question(0)))
    assert question.startswith("Question number") or "<unk>" in question
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["pairs"]["kept"] == 120
    # The words behind the answers' <unk> ids are kept: every answer reads back as it was written.
    samples, decode = dataset.samples, dataset.vocabulary.decode
    assert sum(np.count_nonzero(samples.answer(i) == 3) for i in range(len(samples))) > 50
    written = {dataset.tokenizer.detokenize(dataset.tokenizer.tokenize(answer)) for _, answer in ENGLISH_PAIRS}
    read = {dataset.tokenizer.detokenize(decode(samples.answer(i), unknown_words=samples.answer_words(i)))
            for i in range(len(samples))}
    assert read == written


def test_prepare_is_deterministic(tmp_path):
    corpus = write_pairs(tmp_path / "pairs.tsv", ENGLISH_PAIRS)
    config = make_config("corpus.format=pairs", f"corpus.path={corpus}")
    prepare(config, tmp_path / "a")
    prepare(config, tmp_path / "b")
    a, b = Dataset.load(tmp_path / "a"), Dataset.load(tmp_path / "b")
    assert a.vocabulary.id2word == b.vocabulary.id2word
    assert np.array_equal(a.samples.encoder_values, b.samples.encoder_values)
    assert np.array_equal(a.samples.split, b.samples.split)


def test_no_conversation_crosses_splits_and_multi_answer_questions_stay_together(tmp_path):
    conversations = [[f"line {c} {t}" for t in range(4)] for c in range(60)]
    corpus = write_conv(tmp_path / "c.conv", conversations)
    answers = write_pairs(tmp_path / "multi.tsv", [(f"same question {q}", f"answer {a}") for q in range(30) for a in range(3)])
    config = make_config("corpus.sources=dialogues, faq", "source:dialogues.format=conv", f"source:dialogues.path={corpus}",
                         "source:faq.format=pairs", f"source:faq.path={answers}",
                         "samples.valid_fraction=0.2", "samples.test_fraction=0.2")
    prepare(config, tmp_path / "out")
    samples = Dataset.load(tmp_path / "out").samples
    for conversation in np.unique(samples.conversation):
        assert len(set(samples.split[samples.conversation == conversation].tolist())) == 1
    split_of_question = {}
    for i in np.flatnonzero(samples.source == 1):
        question = (samples.conversation[i] - 60) // 3  # the faq's conversations follow the 60 dialogues
        split_of_question.setdefault(question, set()).add(int(samples.split[i]))
    assert len(split_of_question) == 30 and all(len(s) == 1 for s in split_of_question.values())
    assert len(np.flatnonzero(samples.source == 1)) == 90


def test_mixing_weights_repeat_training_conversations_only(tmp_path):
    small = write_pairs(tmp_path / "small.tsv", ENGLISH_PAIRS[:40])
    large = write_pairs(tmp_path / "large.tsv", [(f"other {i}", f"reply {i}") for i in range(80)])
    base = ["source:small.format=pairs", f"source:small.path={small}", "source:large.format=pairs",
            f"source:large.path={large}"]
    plain = prepare(make_config("corpus.sources=small:1, large:1", *base), tmp_path / "plain")
    mixed = prepare(make_config("corpus.sources=small:3, large:0.5", *base), tmp_path / "mixed")
    assert mixed["sources"]["small"]["train_samples"] == 3 * plain["sources"]["small"]["train_samples"]
    assert mixed["sources"]["large"]["train_samples"] < plain["sources"]["large"]["train_samples"]
    assert mixed["splits"]["valid"]["samples"] == plain["splits"]["valid"]["samples"]
    samples = Dataset.load(tmp_path / "mixed").samples
    assert np.all(samples.split[np.flatnonzero(np.diff(samples.conversation) == 0) + 1] == TRAIN)


def test_chinese_with_sentencepiece_saves_the_model(tmp_path):
    greetings = [["你好", f"你好,最近怎么样?{i}", "还不错,谢谢。"] for i in range(20)]
    weather = [[f"今天天气很好{i}", "是啊,我们去散步吧"] for i in range(20)]
    corpus = write_conv(tmp_path / "zh.conv", greetings + weather)
    config = make_config("corpus.format=conv", f"corpus.path={corpus}", "tokenizer.type=sentencepiece",
                         "tokenizer.sp_vocab_size=60", "tokenizer.sp_character_coverage=1.0",
                         "samples.drop_duplicates=false")
    prepare(config, tmp_path / "out")
    dataset = Dataset.load(tmp_path / "out")
    assert (tmp_path / "out" / "tokenizer.model").is_file()
    texts = {dataset.tokenizer.detokenize(dataset.vocabulary.decode(dataset.samples.answer(i)))
             for i in range(len(dataset.samples))}
    assert "还不错,谢谢。" in texts


def test_mismatched_vocabulary_and_samples_are_refused(tmp_path):
    prepare(make_config("corpus.format=pairs", f"corpus.path={write_pairs(tmp_path / 'a.tsv', ENGLISH_PAIRS)}"),
            tmp_path / "a")
    prepare(make_config("corpus.format=pairs", f"corpus.path={write_pairs(tmp_path / 'b.tsv', [('x y', 'z w')] * 3)}"),
            tmp_path / "b")
    (tmp_path / "b" / "samples.npz").replace(tmp_path / "a" / "samples.npz")
    with pytest.raises(DatasetError):
        Dataset.load(tmp_path / "a")


def test_cli_prepare_prints_the_dataset_folder_last(tmp_path, capsys):
    corpus = write_pairs(tmp_path / "pairs.tsv", ENGLISH_PAIRS)
    code = main(["prepare", "--set", "corpus.format=pairs", "--set", f"corpus.path={corpus}",
                 "--profile", "tiny", "--out", str(tmp_path / "ds")])
    output = capsys.readouterr().out
    assert code == 0 and output.strip().splitlines()[-1] == str(tmp_path / "ds")
    effective = (tmp_path / "ds" / "config.ini").read_text()
    assert "max_size = 500" in effective and "# Applied: profile tiny" in effective


@pytest.mark.parametrize("arguments, message", [
    (["--set", "vocab.max_sise=3"], "unknown key 'max_sise'"),
    (["--set", "corpus.format=pairs", "--set", "corpus.path=/no/such/file.tsv"], "does not exist"),
    (["--profile", "nope"], "unknown profile 'nope'"),
])
def test_cli_errors_are_one_line_without_traceback(tmp_path, capsys, arguments, message):
    code = main(["prepare", "--out", str(tmp_path / "o"), *arguments])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("error: ") and message in error and "Traceback" not in error


def test_console_entry_point_help_and_errors(tmp_path):
    result = subprocess.run([sys.executable, "-m", "deepqa", "prepare", "--help"], capture_output=True, text=True,
                            cwd=PROJECT_ROOT)
    assert result.returncode == 0 and "--profile" in result.stdout and "--set" in result.stdout
    bad = tmp_path / "latin.tsv"
    bad.write_bytes("caf\xe9\tol\xe9\n".encode("iso-8859-1"))
    result = subprocess.run([sys.executable, "-m", "deepqa", "prepare", "--set", "corpus.format=pairs",
                             "--set", f"corpus.path={bad}", "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "latin.tsv" in result.stderr and "encoding" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name, fmt", [("support.tsv", "pairs"), ("small_talk.txt", "lightweight"),
                                       ("greetings.conv", "conv"), ("faq.jsonl", "jsonl")])
def test_shipped_example_corpora_prepare(tmp_path, name, fmt):
    config = make_config(f"corpus.format={fmt}", f"corpus.path={PROJECT_ROOT / 'datasets' / 'examples' / name}",
                         "tokenizer.type=mixed")
    stats = prepare(config, tmp_path)
    assert stats["pairs"]["kept"] == stats["pairs"]["candidates"] >= 5
    assert stats["sources"]["corpus"]["skipped"] == 0
