"""Nothing is written before everything is checked, and a failed command leaves what was there intact."""

import errno
import os
import threading

import pytest

from deepqa import atomic
from deepqa.cli import main
from deepqa.data.dataset import Dataset
from deepqa.data.prepare import prepare
from deepqa.data.samples import Samples
from deepqa.errors import DatasetError
from deepqa.inference.chat import ChatSession
from deepqa.inference.chatbot import Chatbot
from deepqa.train.run_bundle import create_run
from tests.conftest import make_config

PAIRS = [(f"how is item {i}?", f"item {i} is fine.") for i in range(30)]


def pairs_config(tmp_path, pairs=PAIRS, *overrides):
    corpus = tmp_path / "pairs.tsv"
    corpus.write_text("".join(f"{q}\t{a}\n" for q, a in pairs), encoding="utf-8")
    return make_config("corpus.format=pairs", f"corpus.path={corpus}", "samples.valid_fraction=0.2", *overrides)


def test_a_failed_prepare_leaves_the_old_dataset_whole(tmp_path, monkeypatch):
    out = tmp_path / "data"
    prepare(pairs_config(tmp_path), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def disk_full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Samples, "save", disk_full)
    with pytest.raises(OSError):
        prepare(pairs_config(tmp_path, PAIRS[:20], "vocab.max_size=10"), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    Dataset.load(out)


def test_os_errors_are_one_line_messages(tiny_run, tmp_path, capsys):
    not_a_folder = tmp_path / "save"
    not_a_folder.write_text("a file where the runs should go")
    data = tiny_run.parent.parent / "corpus" / "data"
    code = main(["train", "--data", str(data), "--profile", "tiny", "--set", f"train.save_dir={not_a_folder}"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "unexpected" not in err, err
    assert str(not_a_folder) in err and len(err.strip().splitlines()) == 1


def test_a_corpus_without_samples_says_which_filter_and_why(tmp_path):
    single = tmp_path / "single.txt"
    single.write_text("hello there\n===\nanother lone turn\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no conversation has two turns"):
        prepare(make_config("corpus.format=lightweight", f"corpus.path={single}"), tmp_path / "a")
    long_pairs = [(" ".join(["word"] * 30) + f" {i}", f"answer {i}") for i in range(10)]
    with pytest.raises(DatasetError, match="10 dropped because longer than .*length_policy = drop"):
        prepare(pairs_config(tmp_path, long_pairs, "samples.length_policy=drop"), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_files_get_the_users_umask_and_run_names_are_taken_once(tmp_path):
    out = tmp_path / "data"
    prepare(pairs_config(tmp_path), out)
    expected = 0o666 & ~atomic.UMASK
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {oct(expected)}
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~atomic.UMASK)
    config = make_config(f"train.save_dir={tmp_path / 'save'}")
    dataset = Dataset.load(out)
    outcomes = []

    def start():
        try:
            outcomes.append(create_run(config, dataset, "same"))
        except DatasetError:
            outcomes.append("refused")

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("refused") == 3


def test_chat_set_with_a_bad_value_answers_with_the_error(tiny_run):
    session = ChatSession(Chatbot.load(tiny_run), Chatbot.load(tiny_run).config.decode)
    assert session.answer("/set beam_width=lots").startswith("error: [decode] beam_width = 'lots'")
    assert session.answer("/set no_repeat_ngram_size=8").startswith("error:")
    assert session.answer("/set xla=false").startswith("error: /set takes one of")
    assert session.answer("/strategy greedy") == "(strategy = greedy)"
    assert isinstance(session.answer("question 1 about 1?"), str)


def test_a_run_without_model_json_still_loads(tiny_run, tmp_path):
    import shutil

    old = tmp_path / "old-run"
    shutil.copytree(tiny_run, old)
    (old / "model.json").unlink()
    assert Chatbot.load(old).reply("question 1 about 1?").text == Chatbot.load(tiny_run).reply("question 1 about 1?").text
