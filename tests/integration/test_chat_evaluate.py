"""A tiny model trained on a real corpus, then used as a person would: `deepqa chat` and `deepqa evaluate`."""

import json
import os
import subprocess
import sys

import pytest

from deepqa.inference.chatbot import Chatbot
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def deepqa(*arguments, stdin=None):
    return subprocess.run([sys.executable, "-m", "deepqa", *arguments], cwd=PROJECT_ROOT, env=ENV, input=stdin,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module", params=["lstm", "transformer"])
def run(request, tmp_path_factory, shared_datasets):
    folder = tmp_path_factory.mktemp(request.param)
    common = ["--profile", "tiny", "--set", "corpus.format=cornell",
              "--set", f"corpus.path={shared_datasets / 'cornell-sample'}", "--set", "corpus.max_conversations=600"]
    prepared = deepqa("prepare", *common, "--out", str(folder / "data"))
    assert prepared.returncode == 0, prepared.stderr
    trained = deepqa("train", *common, "--data", str(folder / "data"), "--set", f"model.type={request.param}",
                     "--set", f"train.save_dir={folder / 'save'}", "--set", "train.epochs=1", "--run-name", "bot")
    assert trained.returncode == 0, trained.stderr[-3000:]
    return folder / "save" / "bot"


def test_chat_answers_once_and_line_by_line(run):
    once = deepqa("chat", "--run", str(run), "--question", "Where are you going?")
    assert once.returncode == 0 and len(once.stdout.strip().splitlines()) == 1
    piped = deepqa("chat", "--run", str(run), "--set", "decode.strategy=sample", "--set", "decode.seed=1",
                   stdin="Hello.\nWhat is your name?\n\nWho are you?\n")
    assert piped.returncode == 0 and len(piped.stdout.splitlines()) == 3
    for line in piped.stdout.splitlines():
        assert "<unk>" not in line and "<eos>" not in line
    bad = deepqa("chat", "--run", str(run), "--set", "decode.top_p=2", "--question", "hi")
    assert bad.returncode == 2 and "top_p" in bad.stderr and "Traceback" not in bad.stderr


def test_evaluate_writes_a_full_report(run):
    result = deepqa("evaluate", "--run", str(run), "--set", "eval.max_cases=50", "--set", "eval.max_generate=20")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((run / "report.json").read_text())
    assert report["candidates_per_case"] == 10 and set(report["selection"]) == {"model", "tfidf", "bm25", "chance"}
    assert "tfidf" in result.stdout and "bm25" in result.stdout and result.stdout.strip().splitlines()[-1] == str(run / "report.json")
    assert report["generation"]["generated"] == 20


def test_reply_api_is_the_same_for_every_architecture(run):
    reply = Chatbot.load(run).reply("How are you?", context=["Hello."], strategy="beam", beam_width=3, num_answers=2)
    assert len(reply.answers) == 2 and reply.text == reply.answers[0].text
