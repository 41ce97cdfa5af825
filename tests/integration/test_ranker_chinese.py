"""The ranker, retrieval and the rank and hybrid reply modes on real Chinese corpora: LCCC (spaced single
characters; char and sentencepiece tokenizers) and the dgk-conv subtitles (jieba and mixed)."""

import os
import re
import subprocess
import sys

import pytest

from deepqa.inference.chatbot import Chatbot
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def deepqa(*arguments):
    result = subprocess.run([sys.executable, "-m", "deepqa", *arguments], cwd=PROJECT_ROOT, env=ENV,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("corpus, tokenizer", [("lccc", "char"), ("dgk", "jieba"), ("lccc", "sentencepiece"),
                                               ("dgk", "mixed")])
def test_rank_and_hybrid_replies_in_chinese(shared_datasets, tmp_path, corpus, tokenizer):
    source = ({"corpus.format": "pairs", "corpus.path": str(shared_datasets / "lccc-toy" / "toy_*.txt")}
              if corpus == "lccc" else {"corpus.format": "conv", "corpus.path": str(shared_datasets / "dgk-conv")})
    settings = {**source, "tokenizer.type": tokenizer, "corpus.max_conversations": "1500", "train.epochs": "1",
                "train.steps_per_epoch": "3", "train.save_dir": str(tmp_path / "save"), "ranker.enabled": "true",
                "ranker.dim": "32", "ranker.epochs": "3", "ranker.batch_size": "32", "tokenizer.sp_vocab_size": "1500",
                "tokenizer.sp_character_coverage": "0.98"}
    arguments = sum((["--set", f"{key}={value}"] for key, value in settings.items()), [])
    deepqa("prepare", "--profile", "tiny", *arguments, "--out", str(tmp_path / "data"))
    deepqa("train", "--profile", "tiny", *arguments, "--data", str(tmp_path / "data"), "--run-name", "zh")
    bot = Chatbot.load(tmp_path / "save" / "zh", overrides=["decode.mode=rank"])
    question = "你 今天 过 得 怎么样 ?" if corpus == "lccc" else "你去哪儿"
    ranked = bot.reply(question, num_answers=3)
    assert len(ranked.answers) == 3 and all(a.source == "retrieved" for a in ranked.answers)
    assert any(CJK.search(a.text) for a in ranked.answers), ranked.answers  # the subtitles hold some English
    assert not any(re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", a.text) for a in ranked.answers), ranked.answers
    hybrid = bot.reply(question, mode="hybrid", num_answers=20)
    assert "retrieved" in {a.source for a in hybrid.answers}
    if tokenizer in ("sentencepiece", "mixed"):
        return  # the evaluation table is the same code for every tokenizer: two corpora cover it
    report = deepqa("evaluate", "--run", str(tmp_path / "save" / "zh"), "--set", "eval.max_cases=200",
                    "--set", "eval.max_generate=20", "--out", str(tmp_path / "report.json")).stdout
    assert re.search(r"^ranker\s", report, re.M), report
