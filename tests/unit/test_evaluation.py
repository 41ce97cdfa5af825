"""Evaluation and chat: recall@k on hand-built rankings, the TF-IDF baseline, candidates-file errors,
and a full evaluation and chat session with a tiny trained run."""

import io
import json

import numpy as np
import pytest

from deepqa.inference.chat import ChatSession, run_chat
from deepqa.inference.chatbot import Chatbot
from deepqa.cli import main
from deepqa.errors import ConfigError, DatasetError
from deepqa.evaluate.evaluation import evaluate, format_table, write_report
from deepqa.evaluate.selection import Bm25Ranker, TfidfRanker, chance_report, load_cases, ranks, recall_report
from deepqa.evaluate.text_metrics import corpus_bleu, distinct_n, most_frequent_share
from tests.conftest import QA_PAIRS


def test_recall_at_k_on_known_rankings():
    scores = np.array([
        [9, 1, 2, 3, 4, 5, 6, 7, 8, 0],    # true response ranked first
        [5, 9, 1, 2, 3, 4, 0, 0, 0, 0],    # second
        [5, 9, 8, 7, 6, 1, 1, 1, 1, 1],    # fifth
        [0, 9, 8, 7, 6, 5, 4, 3, 2, 1],    # last
    ], dtype=float)
    assert ranks(scores, 10).tolist() == [0, 1, 4, 9]
    report = recall_report(scores)
    assert report == {"1_in_2_R@1": 0.25, "1_in_10_R@1": 0.25, "1_in_10_R@2": 0.5, "1_in_10_R@5": 0.75}
    assert ranks(np.array([[1.0, 1.0]]), 2).tolist() == [1]  # a tie counts against the true response
    assert chance_report(10)["1_in_10_R@2"] == 0.2 and "1_in_10_R@1" not in chance_report(5)


def test_tfidf_picks_the_response_that_shares_the_rare_words():
    documents = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "barked"], ["the", "weather", "is", "nice"]]
    ranker = TfidfRanker(documents)
    scores = ranker.score(["where", "did", "the", "cat", "sit", "?"],
                          [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "barked"], ["the", "weather"]])
    assert int(np.argmax(scores)) == 0 and scores[0] > 0


def test_bm25_on_a_hand_computed_case():
    documents = [["a", "b"], ["a", "c", "c"], ["d"]]
    ranker = Bm25Ranker(documents)
    # N = 3, average length 2; idf(c) = ln(1 + (3 - 1 + .5) / 1.5), tf(c) = 2 in a document of length 3.
    idf_c = np.log(1 + 2.5 / 1.5)
    expected = idf_c * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2))
    assert ranker.score(["c", "x"], [["a", "c", "c"], ["d"]]) == pytest.approx([expected, 0.0])
    # A rare shared word outweighs a common one, and a longer candidate with the same match scores less.
    scores = ranker.score(["a", "d"], [["a"], ["d"], ["d", "e", "f", "g"]])
    assert scores[1] > scores[0] > 0 and scores[1] > scores[2] > 0


def test_text_metrics():
    assert corpus_bleu([["a", "b", "c", "d"]], [["a", "b", "c", "d"]]) == pytest.approx(1.0)
    assert corpus_bleu([["x", "y"]], [["a", "b", "c", "d"]]) < 0.01
    # Known cases, as the hand-written BLEU this replaced computed them (floor smoothing of zero matches).
    assert corpus_bleu([["the", "cat", "sat", "on", "the", "mat"], ["hello", "there"]],
                       [["the", "cat", "is", "on", "the", "mat"], ["hello", "there", "friend"]]) == pytest.approx(0.23302, abs=1e-5)
    assert corpus_bleu([["i", "am", "fine", "."]] * 3, [["i", "am", "fine", "thanks", "."], ["i", "am", "ok", "."],
                                                        ["fine", "."]]) == pytest.approx(0.20744, abs=1e-5)
    assert corpus_bleu([[]], [["a"]]) == 0.0
    assert distinct_n([["a", "a", "b"], ["a", "b"]], 1) == pytest.approx(2 / 5)
    assert distinct_n([["a", "b", "a", "b"]], 2) == pytest.approx(2 / 3)
    assert most_frequent_share(["hi", "hi", "yo", "hi"]) == 0.75


def test_candidates_file_errors_name_the_line(tmp_path):
    path = tmp_path / "cases.jsonl"
    good = json.dumps({"context": ["hi"], "response": "hello", "distractors": ["no", "yes"]})
    path.write_text(good + "\n" + "{broken\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="cases.jsonl:2: invalid JSON"):
        load_cases(path)
    path.write_text(good + "\n\n" + json.dumps({"context": [], "response": "x", "distractors": ["y"]}) + "\n")
    with pytest.raises(DatasetError, match="cases.jsonl:3: context"):
        load_cases(path)
    path.write_text(json.dumps({"context": "hi", "response": "x", "distractors": "y"}) + "\n")
    with pytest.raises(DatasetError, match="cases.jsonl:1: distractors"):
        load_cases(path)
    path.write_text(good + "\n")
    assert load_cases(path)[0].candidates == ["hello", "no", "yes"]


PAIRS = QA_PAIRS


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run


def test_full_evaluation_fills_every_field(run, tmp_path):
    bot = Chatbot.load(run, overrides=["eval.max_generate=10"])  # [eval] is the deployment's, not the run's
    report = evaluate(bot)
    assert report["cases"] > 0 and report["candidates_per_case"] == 10
    for ranker in ("model", "tfidf", "chance"):
        assert set(report["selection"][ranker]) == {"1_in_2_R@1", "1_in_10_R@1", "1_in_10_R@2", "1_in_10_R@5"}
        assert all(0.0 <= v <= 1.0 for v in report["selection"][ranker].values())
    generation = report["generation"]
    for name in ("perplexity", "bleu", "distinct_1", "distinct_2", "average_length", "most_frequent_reply_share"):
        assert np.isfinite(generation[name]), name
    assert generation["perplexity"] > 1 and generation["generated"] == 10
    path = write_report(bot, report, tmp_path / "report.json")
    assert json.loads(path.read_text())["cases"] == report["cases"]
    assert (run / "logs" / "evaluation").is_dir()
    assert "1_in_10_R@1" in format_table(report)


def test_mmi_and_candidates_file_through_the_command_line(run, tmp_path, capsys):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps({"context": [q], "response": a, "distractors": [p[1] for p in PAIRS[i + 1:i + 10]]})
                             + "\n" for i, (q, a) in enumerate(PAIRS[:5])), encoding="utf-8")
    code = main(["evaluate", "--run", str(run), "--candidates", str(cases), "--set", "eval.mmi_lambda=0.5",
                 "--out", str(tmp_path / "r.json")])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["cases"] == 5 and "model_mmi" in report["selection"]
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(tmp_path / "r.json")


def test_reply_api_and_chat_session(run):
    bot = Chatbot.load(run)
    reply = bot.reply("red cat 3?", strategy="beam", beam_width=3, num_answers=3)
    assert len(reply.answers) == 3 and reply.text == reply.answers[0].text
    assert [a.score for a in reply.answers] == sorted((a.score for a in reply.answers), reverse=True)
    for answer in reply.answers:
        assert not {"<pad>", "<go>", "<eos>", "<unk>"} & set(answer.text.split())
    with pytest.raises(ConfigError):
        bot.reply("hi", beam_width=0)
    session = ChatSession(bot, bot.config.decode)
    assert session.answer("/strategy sample").startswith("(strategy = sample")
    assert session.answer("/set temperature=0.5") == "(temperature = 0.5)"
    assert session.answer("/set temperature=hot").startswith("error:")
    session.answer("red cat 3?")
    assert len(session.history) == 2
    assert session.answer("/reset") == "(conversation forgotten)" and session.history == []
    out = io.StringIO()
    run_chat(bot, bot.config.decode, stdin=io.StringIO("red cat 3?\n\nblue dog 4?\n"), stdout=out)
    assert len(out.getvalue().splitlines()) == 2
