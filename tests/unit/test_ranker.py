"""The response ranker: its loss, a training run into the bundle, save/load, retrieval on a tiny index,
the rank reply mode through the Chatbot and the API, and its row in the evaluation."""

import numpy as np
import pytest
import tensorflow as tf

from deepqa.cli import main
from deepqa.errors import ConfigError, DatasetError
from deepqa.data.vocab import UNK
from deepqa.evaluate.evaluation import encode_cases, evaluate
from deepqa.evaluate.selection import Case
from deepqa.files import RANKER_FILE, RANKER_INDEX, RANKER_WEIGHTS
from deepqa.inference.chatbot import Chatbot
from deepqa.ranker.index import ResponseIndex
from deepqa.ranker.training import contrastive_loss
from serve.app import create_app
from tests.conftest import QA_PAIRS


def test_loss_masks_equal_answers_and_rewards_the_diagonal():
    keys = tf.constant([0, 1, 1, 2])
    perfect = tf.eye(4) * 20.0
    loss, accuracy = contrastive_loss(perfect, keys)
    assert float(loss) < 1e-3 and float(accuracy) == 1.0
    # Rows 1 and 2 share an answer: scoring each other's answer high is no mistake.
    shared = perfect + tf.constant([[0, 0, 0, 0], [0, 0, 25.0, 0], [0, 25.0, 0, 0], [0, 0, 0, 0]])
    assert float(contrastive_loss(shared, keys)[0]) < 1e-3
    assert float(contrastive_loss(shared, tf.constant([0, 1, 2, 3]))[0]) > 1.0


def test_index_keeps_distinct_answers_and_finds_the_nearest(tmp_path):
    answers = [np.array([5, 6]), np.array([7]), np.array([5, 6]), np.array([8, 9, 10])]
    vectors = {5: [1.0, 0.0], 7: [0.0, 1.0], 8: [-1.0, 0.0]}
    index = ResponseIndex.build(answers, lambda ids: np.array([vectors[int(row[0])] for row in ids]),
                                np.ones(12, np.float32))
    assert len(index) == 3 and index.answer(0).tolist() == [5, 6]  # the most frequent first
    found, scores = index.search(np.array([[0.1, 0.9], [1.0, 0.0]]), 2)
    assert found[0].tolist()[0] == 1 and found[1].tolist()[0] == 0 and scores[1][0] == pytest.approx(1.0)
    index.save(tmp_path / "index.npz")
    again = ResponseIndex.load(tmp_path / "index.npz")
    assert np.array_equal(again.vectors, index.vectors) and again.answer(2).tolist() == [8, 9, 10]
    assert np.array_equal(again.idf, index.idf)


def test_index_keeps_answers_with_unknown_words_when_it_knows_the_words(tmp_path):
    unk = 3
    answers = [np.array([5, unk]), np.array([5, unk]), np.array([5, unk]), np.array([unk])]
    words = [["zorblax"], ["quux"], ["zorblax"], ["wibble"]]
    encode = lambda ids: np.ones((len(ids), 2), np.float32) / np.sqrt(2)  # noqa: E731
    index = ResponseIndex.build(answers, encode, np.ones(8, np.float32), answer_words=words)
    assert len(index) == 3 and [index.answer_words(i) for i in range(3)] == [["zorblax"], ["quux"], ["wibble"]]
    index.save(tmp_path / "index.npz")
    again = ResponseIndex.load(tmp_path / "index.npz")
    assert [again.answer_words(i) for i in range(3)] == [["zorblax"], ["quux"], ["wibble"]]
    # Without the words (a dataset made before they were kept) such answers are left out: a reply could not show them.
    assert len(ResponseIndex.build(answers, encode, np.ones(8, np.float32))) == 0
    with np.load(tmp_path / "index.npz") as data:
        arrays = {name: data[name] for name in data.files}
    offsets = arrays["unknown_words_offsets"][:3]  # the last word lost
    np.savez(tmp_path / "broken.npz", **{**arrays, "unknown_words_offsets": offsets,
                                         "unknown_words_data": arrays["unknown_words_data"][:offsets[-1]]})
    with pytest.raises(DatasetError, match="2 unknown words for 3 <unk> ids"):
        ResponseIndex.load(tmp_path / "broken.npz")


def test_large_index_is_searched_through_its_approximate_graph(tmp_path, caplog):
    pytest.importorskip("hnswlib", reason="hnswlib (the approximate extra) is not installed")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    answers = [np.array([i + 4]) for i in range(500)]
    exact = ResponseIndex.build(answers, lambda ids: vectors[ids[:, 0] - 4], np.ones(600, np.float32))
    queries = vectors[:20] + 0.05 * rng.normal(size=(20, 16)).astype(np.float32)
    want_ids, want_scores = exact.search(queries, 5)
    approximate = ResponseIndex(exact.values, exact.offsets, exact.vectors, exact.idf)
    assert not approximate.search_approximately_above(500, tmp_path / "graph.hnsw")  # not above: exact
    assert approximate.search_approximately_above(499, tmp_path / "graph.hnsw")
    found_ids, found_scores = approximate.search(queries, 5)
    assert (found_ids == want_ids).mean() > 0.95 and np.allclose(found_scores, want_scores, atol=1e-4)
    assert (tmp_path / "graph.hnsw").is_file()  # kept for the next start, and loaded then, not rebuilt
    caplog.clear()
    again = ResponseIndex(exact.values, exact.offsets, exact.vectors, exact.idf)
    with caplog.at_level("INFO"):
        assert again.search_approximately_above(10, tmp_path / "graph.hnsw")
    assert "building" not in caplog.text and np.array_equal(again.search(queries, 5)[0], found_ids)
    smaller = ResponseIndex(exact.values[:300], exact.offsets[:301], exact.vectors[:300], exact.idf)
    with caplog.at_level("INFO"):
        assert smaller.search_approximately_above(10, tmp_path / "graph.hnsw")  # a stale graph is rebuilt
    assert "building" in caplog.text and smaller.search(queries, 1)[0].max() < 300


def test_lexical_score_counts_shared_content_words_only():
    from deepqa.ranker.lexical import inverse_document_frequencies, tfidf_cosines

    idf = inverse_document_frequencies([np.array([5, 6]), np.array([5, 7]), np.array([5, 8])], 10)
    assert idf[5] < idf[6] == idf[7]  # the word in every document weighs least
    scores = tfidf_cosines(np.array([[6, 5, 0], [1, 2, 3]]), np.array([[6, 9, 0], [1, 2, 3]]), idf)
    assert 0 < scores[0] < 1 and scores[1] == 0  # specials and padding count for nothing


def test_the_training_steps_lexical_matrix_is_the_scorers_tfidf_cosine_of_every_pair():
    from deepqa.ranker.lexical import inverse_document_frequencies, tfidf_cosines
    from deepqa.ranker.training import tfidf_cosine_matrix

    rng = np.random.default_rng(0)
    contexts = rng.integers(0, 12, size=(5, 7)).astype(np.int32)  # repeated words, padding, specials
    responses = rng.integers(0, 12, size=(4, 6)).astype(np.int32)
    contexts[0] = 0  # an empty row matches nothing
    idf = inverse_document_frequencies(list(contexts) + list(responses), 12)
    training_idf = np.where(np.arange(12) > 3, idf, 0.0).astype(np.float32)
    matrix = tfidf_cosine_matrix(tf.constant(contexts), tf.constant(responses), tf.constant(training_idf)).numpy()
    expected = [[tfidf_cosines(c[None], r[None], idf)[0] for r in responses] for c in contexts]
    assert matrix == pytest.approx(np.array(expected), abs=1e-6) and matrix.max() > 0.1


def test_unknown_words_match_themselves_and_raise_the_lexical_weight():
    from deepqa.ranker.lexical import inverse_document_frequencies, lexical_ids, tfidf_cosines, unknown_share
    from deepqa.ranker.retrieval import Ranker

    unk = 3
    context = lexical_ids(["hello", "Zorblax", "Quux"], np.array([5, unk, unk]), 10)
    answer = lexical_ids(["Zorblax", "there"], np.array([unk, 6]), 10)
    other = lexical_ids(["Wibble", "there"], np.array([unk, 6]), 10)
    assert context[0] == 5 and context[1] == answer[0] != other[0] and min(context[1:]) >= 10
    idf = inverse_document_frequencies([np.array([5, 6]), np.array([5, 7])], 10)
    scores = tfidf_cosines(np.stack([context, context]), np.stack([answer, other]), idf)
    assert scores[0] > 0 and scores[1] == 0  # the same unknown word matches, different ones do not
    assert unknown_share(np.array([[2, unk, 5, 0], [5, 6, 0, 0]])).tolist() == [0.5, 0.0]
    index = ResponseIndex(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros((0, 4), np.float32), idf)
    ranker = Ranker(None, index, lexical_weight=0.3, unknown_word_boost=10)
    assert ranker.lexical_weights(np.array([[5, 6, 0], [5, unk, 0]])) == pytest.approx([0.3, 5.3])
    assert Ranker(None, index, 0.0, 10).lexical_weights(np.array([[unk]])) == pytest.approx([0.0])
    index.unknown_share = 0.25  # as many unknown words as the training contexts have: no boost
    assert ranker.lexical_weights(np.array([[5, 6, 5, unk], [5, unk, 0, 0]])) == pytest.approx([0.3, 2.8])


@pytest.fixture(scope="module")
def ranked_run(tiny_run, tmp_path_factory):
    import shutil

    run = tmp_path_factory.mktemp("ranked") / "run"
    shutil.copytree(tiny_run, run)
    assert main(["train", "--only", "ranker", "--resume", str(run), "--set", "ranker.epochs=30",
                 "--set", "ranker.dim=16", "--set", "ranker.batch_size=16", "--set", "ranker.temperature=0.1"]) == 0
    return run


def test_only_ranker_trains_into_the_run_and_refuses_other_sections(ranked_run, tiny_run, capsys):
    for name in (RANKER_WEIGHTS, RANKER_INDEX, RANKER_FILE):
        assert (ranked_run / name).is_file(), name
    assert list((ranked_run / "logs" / "ranker" / "validation").iterdir())
    assert "enabled = true" in (ranked_run / "config.ini").read_text()
    assert main(["train", "--only", "ranker", "--resume", str(tiny_run), "--set", "model.dropout=0.2"]) == 2
    assert "names another section" in capsys.readouterr().err
    assert main(["train", "--only", "ranker"]) == 2


def test_only_more_unknown_words_than_9_in_10_training_contexts_have_raise_the_lexical_weight():
    """A corpus with many rare words has unknown words in many contexts; that alone does not make a text foreign."""
    from deepqa.ranker.retrieval import Ranker
    from deepqa.ranker.training import usual_unknown_share

    unk = 3
    contexts = [np.array([5, 6])] * 8 + [np.array([5, unk]), np.array([unk, unk])]  # shares 0 x 8, 0.5, 1
    usual = usual_unknown_share(contexts)
    assert usual == pytest.approx(0.55) and usual_unknown_share([]) == 0.0
    index = ResponseIndex(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros((0, 4), np.float32),
                          np.ones(10, np.float32), unknown_share=usual)
    ranker = Ranker(None, index, lexical_weight=0.3, unknown_word_boost=10)
    assert ranker.lexical_weights(np.array([[5, unk], [unk, unk]])) == pytest.approx([0.3, 4.8])


def test_rank_mode_answers_from_the_training_answers(ranked_run, tiny_run, tmp_path):
    bot = Chatbot.load(ranked_run, overrides=["decode.mode=rank", f"serve.database={tmp_path / 'db.sqlite3'}"])
    known = {answer for _, answer in QA_PAIRS}
    reply = bot.reply("question 3 about 3?", num_answers=3)
    assert len(reply.answers) == 3 and all(a.source == "retrieved" for a in reply.answers)
    assert {a.text for a in reply.answers} <= {bot.tokenizer.detokenize(bot.tokenizer.tokenize(t)) for t in known}
    assert reply.answers[0].score >= reply.answers[1].score >= reply.answers[2].score
    client = create_app(bot.config, bot).test_client()
    body = client.post("/api/v1/question", json={"question": "question 3 about 3?",
                                                 "decoding": {"num_answers": 2}}).get_json()
    assert [a["source"] for a in body["answers"]] == ["retrieved", "retrieved"]
    with pytest.raises(ConfigError, match="needs a ranker"):
        Chatbot.load(tiny_run).reply("hello", mode="rank")
    plain = create_app(Chatbot.load(tiny_run).config, Chatbot.load(tiny_run)).test_client()
    refused = plain.post("/api/v1/question", json={"question": "hi", "decoding": {"mode": "rank"}})
    assert refused.status_code == 400 and "needs a ranker" in refused.get_json()["error"]["message"]


def test_hybrid_mode_lets_the_ranker_choose_among_generated_and_retrieved(ranked_run):
    bot = Chatbot.load(ranked_run, overrides=["decode.mode=hybrid", "decode.beam_width=3"])
    pooled = bot.reply("question 3 about 3?", num_answers=30, hybrid_samples=2, hybrid_retrieved=5)
    sources = [a.source for a in pooled.answers]
    assert sources.count("retrieved") == 5 and set(sources) <= {"generated", "retrieved"}
    assert [a.score for a in pooled.answers] == sorted((a.score for a in pooled.answers), reverse=True)
    assert len({a.text for a in pooled.answers}) == len(pooled.answers)  # each text once
    assert "question 3 about 3?" not in {a.text.lower() for a in pooled.answers}
    generated_only = bot.reply("question 3 about 3?", num_answers=30, hybrid_retrieved=0)
    assert generated_only.answers and {a.source for a in generated_only.answers} == {"generated"}
    best = bot.reply("question 3 about 3?")
    assert best.text == best.answers[0].text and len(best.answers) == 1
    follow_up = bot.reply("question 3 about 3?", context=["question 3 about 3?", best.text])
    assert best.text not in {a.text for a in follow_up.answers}  # never repeats its own previous turn


@pytest.mark.parametrize("generator_weight", [0.0, 0.5])
def test_hybrid_answers_carry_the_score_that_scoring_them_afresh_gives(ranked_run, generator_weight):
    """Retrieved answers keep the score they were found by, and the context towers run once: the scores must
    still be the hybrid score of each answer, as the evaluation computes it."""
    from deepqa.inference.decoding import pad_rows

    bot = Chatbot.load(ranked_run, overrides=["decode.mode=hybrid", "decode.beam_width=3",
                                              f"decode.hybrid_generator_weight={generator_weight}"])
    questions = [("question 3 about 3?", None), ("question 5 about 5?", ["hello there"])]
    replies = bot.reply_batch(questions, bot.config.decode.replace(num_answers=30, hybrid_retrieved=5))
    for (question, context), reply in zip(questions, replies):
        sources = {a.source for a in reply.answers}
        assert sources == {"generated", "retrieved"}
        candidates = [bot.encode_answer(a.text) for a in reply.answers]
        contexts = pad_rows([bot.encode_turns(question, context)] * len(candidates))
        afresh = bot.hybrid_scores(contexts, candidates, generator_weight)
        assert [a.score for a in reply.answers] == pytest.approx(afresh.tolist(), abs=1e-4)


def test_hybrid_retrieval_runs_beside_the_beam_and_gives_the_same_replies(ranked_run):
    """The context towers and the search run in the bot's retrieval thread while the beam is decoded; the
    replies are those of doing one after the other."""
    import threading

    bot = Chatbot.load(ranked_run, overrides=["decode.mode=hybrid", "decode.beam_width=3"])
    threads, retrieve = [], bot.ranker.retrieve

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return retrieve(*args, **kwargs)

    bot.ranker.retrieve = recorded
    questions = [("question 3 about 3?", None), ("question 5 about 5?", ["hello there"])]
    options = bot.config.decode.replace(num_answers=30, hybrid_retrieved=5)
    beside = bot.reply_batch(questions, options)
    assert threads and all(name.startswith("deepqa-retrieval") for name in threads)

    class InPlace:  # the same work, in the calling thread
        def submit(self, function, *args):
            from concurrent.futures import Future
            done = Future()
            done.set_result(function(*args))
            return done

    bot._retrieval_worker = InPlace()
    in_turn = bot.reply_batch(questions, options)
    assert threads[-1] == threading.current_thread().name
    assert [[(a.text, a.source) for a in r.answers] for r in beside] == \
        [[(a.text, a.source) for a in r.answers] for r in in_turn]
    assert [a.score for r in beside for a in r.answers] == \
        pytest.approx([a.score for r in in_turn for a in r.answers], abs=1e-6)


def test_the_ranker_learns_and_is_in_the_evaluation(ranked_run):
    import json

    metrics = json.loads((ranked_run / RANKER_FILE).read_text())
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]
    report = evaluate(Chatbot.load(ranked_run))
    assert set(report["selection"]["ranker"]) == {"1_in_2_R@1", "1_in_10_R@1", "1_in_10_R@2", "1_in_10_R@5"}
    assert set(report["selection"]["ranker_towers_only"]) == set(report["selection"]["ranker"])
    assert {"model", "tfidf", "bm25", "chance"} <= set(report["selection"]) and "hybrid" not in report["selection"]
    assert report["generation"]["decoding"].startswith("hybrid")  # mode auto: hybrid, as the run has a ranker


def test_hybrid_scores_add_the_generators_mutual_information(ranked_run):
    """With a generator weight the hybrid score is the ranker's plus weight x PMI, and the evaluation reports
    the hybrid row and the hybrid mode's replies."""
    bot = Chatbot.load(ranked_run, overrides=["decode.mode=hybrid", "decode.hybrid_generator_weight=0.5",
                                              "eval.max_generate=12"])
    contexts = np.stack([bot.encode_turns("question 3 about 3?")] * 2)
    candidates = [bot.encode_answer("answer 3 is 3"), bot.encode_answer("question 4 about 4?")]
    ranker_only = bot.hybrid_scores(contexts, candidates, 0.0)
    pmi = bot.likelihood.mmi_scores(list(contexts), candidates, 1.0)
    assert bot.hybrid_scores(contexts, candidates, 0.5) == pytest.approx(ranker_only + 0.5 * pmi, abs=1e-4)
    assert not np.allclose(pmi, 0)
    report = evaluate(bot)
    assert set(report["selection"]["hybrid"]) == set(report["selection"]["ranker"])
    generation = report["generation"]
    assert generation["decoding"].startswith("hybrid") and generation["generated"] == 12
    assert generation["average_length"] > 0 and 0 < generation["most_frequent_reply_share"] <= 1


def test_a_follow_up_is_answered_differently_with_and_without_its_context(tmp_path):
    """Trained with two turns of context, the same follow-up question gets the answer its context calls for."""
    from deepqa.data.prepare import prepare
    from tests.conftest import TINY_MODEL, make_config

    animals = ["cats", "dogs", "birds", "fish"]
    lines = []
    for round_ in range(12):
        for animal in animals:
            lines += [f"i really like {animal} number {round_}", "what do you like ?", f"{animal} are my favourite",
                      "==="]
    corpus = tmp_path / "talk.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = ["corpus.format=lightweight", f"corpus.path={corpus}", "samples.context_turns=2",
                "samples.drop_duplicates=false", "samples.valid_fraction=0.1", "samples.test_fraction=0"]
    prepare(make_config(*settings), tmp_path / "data")
    assert main(["train", "--data", str(tmp_path / "data"), "--run-name", "context",
                 *sum((["--set", s] for s in [*TINY_MODEL, f"train.save_dir={tmp_path / 'save'}", "ranker.enabled=true",
                                               "ranker.epochs=40", "ranker.dim=16", "ranker.batch_size=8",
                                               "ranker.temperature=0.1"]), [])]) == 0
    bot = Chatbot.load(tmp_path / "save" / "context", overrides=["decode.mode=rank"])
    replies = {animal: bot.reply("what do you like ?", context=[f"i really like {animal} number 99"]).text
               for animal in animals}
    assert sum(animal in replies[animal].lower() for animal in animals) >= 3, replies
    assert len(set(replies.values())) >= 3, replies


def test_an_interrupted_ranker_training_continues_after_its_last_epoch(tiny_run, tmp_path, monkeypatch, caplog):
    """Stopped during epoch 2, the ranker's training keeps epoch 1's checkpoint and goes on from there."""
    import json
    import shutil

    from deepqa.data.dataset import Dataset
    from deepqa.files import DATASET_FILE, RANKER_RESUME_DIR
    from deepqa.ranker import training
    from tests.conftest import make_config

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = make_config("ranker.dim=8", "ranker.batch_size=16", "ranker.epochs=3")
    dataset = Dataset.load(json.loads((run / DATASET_FILE).read_text())["path"])
    measured = training.recall_at_1
    calls = []

    def interrupted(*arguments, **keywords):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return measured(*arguments, **keywords)

    monkeypatch.setattr(training, "recall_at_1", interrupted)
    with pytest.raises(KeyboardInterrupt):
        training.train_ranker(config, dataset, run)
    first = json.loads((run / RANKER_RESUME_DIR / "progress.json").read_text())
    assert first["epoch"] == 1 and not (run / RANKER_FILE).exists()
    monkeypatch.setattr(training, "recall_at_1", measured)
    with caplog.at_level("INFO"):
        metrics = training.train_ranker(config, dataset, run)
    assert "continuing the ranker's training after epoch 1" in caplog.text
    assert [entry["epoch"] for entry in metrics["history"]] == [1, 2, 3]
    assert metrics["history"][0] == first["history"][0]
    assert not (run / RANKER_RESUME_DIR).exists() and (run / RANKER_INDEX).is_file()
    # Other settings: the old checkpoint is not used.
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(training, "recall_at_1", interrupted)
        calls.clear()
        training.train_ranker(config, dataset, run)
    changed = make_config("ranker.dim=8", "ranker.batch_size=16", "ranker.epochs=2", "ranker.learning_rate=0.01")
    monkeypatch.setattr(training, "recall_at_1", measured)
    with caplog.at_level("INFO"):
        training.train_ranker(changed, dataset, run)
    assert "training the ranker afresh" in caplog.text


def test_hard_negative_batches_cluster_similar_contexts_after_the_first_epoch(tiny_run, tmp_path, monkeypatch):
    """With [ranker] hard_negatives, epochs after the first take their batches' clusters from the towers' own
    context vectors, and the ranker still learns."""
    import json
    import shutil

    from deepqa.data.dataset import Dataset
    from deepqa.files import DATASET_FILE
    from deepqa.ranker import training
    from tests.conftest import make_config

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    dataset = Dataset.load(json.loads((run / DATASET_FILE).read_text())["path"])
    made = []
    real = training.epoch_batches

    def recorded(rng, count, batch, hard_share=0.0, context_vectors=None):
        made.append(context_vectors)
        return real(rng, count, batch, hard_share, context_vectors)

    monkeypatch.setattr(training, "epoch_batches", recorded)
    config = make_config("ranker.dim=8", "ranker.batch_size=16", "ranker.epochs=3", "ranker.hard_negatives=0.5")
    metrics = training.train_ranker(config, dataset, run)
    assert made[0] is None and all(v is not None and v.shape[0] == made[1].shape[0] > 16 for v in made[1:])
    assert len(made) == 3 and metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]


def ranked_bot(tmp_path, pairs, name: str, *overrides: str):
    """A tiny generator and ranker trained on ``pairs`` (prepared and trained with ``overrides``), loaded; and
    its dataset folder."""
    from tests.conftest import TINY_MODEL, prepare_pairs

    common = [*overrides, "samples.valid_fraction=0.2", "samples.test_fraction=0"]
    data = prepare_pairs(tmp_path / "corpus", pairs, *common)
    settings = [*TINY_MODEL, *common, f"train.save_dir={tmp_path / 'save'}", "decode.xla=false", "ranker.enabled=true",
                "ranker.epochs=2", "ranker.dim=8", "ranker.batch_size=8"]
    assert main(["train", "--data", str(data), "--run-name", name, *sum((["--set", s] for s in settings), [])]) == 0
    return Chatbot.load(tmp_path / "save" / name), data


def test_answers_cut_by_the_length_limit_are_replied_only_as_whole_sentences(tmp_path):
    """Truncated to 6 tokens, "yes red. it is red and red again" is indexed as "yes red." and "well red and red
    and red too" (no sentence end before the cut) not at all; short answers stay whole."""
    from tests.conftest import WORDS

    kinds = ["yes {w}. it is {w} and {w} again", "well {w} and {w} and {w} too", "ok {w}."]
    pairs = [(f"question {i} {WORDS[i % 10]}?", kinds[i % 3].format(w=WORDS[i % 10])) for i in range(60)]
    bot, data = ranked_bot(tmp_path, pairs, "cut", "samples.max_answer_length=6")
    indexed = {bot.tokenizer.detokenize(bot.vocabulary.decode(bot.ranker.index.answer(i)))
               for i in range(len(bot.ranker.index))}
    assert indexed <= {f"Yes {w}." for w in WORDS} | {f"Ok {w}." for w in WORDS}, indexed  # training answers
    assert sum(text.startswith("Yes") for text in indexed) >= 5, indexed
    ranked = bot.reply("question 4 bird?", mode="rank", num_answers=30).answers
    assert ranked and all(answer.text.endswith(".") for answer in ranked), ranked
    pooled = bot.reply("question 4 bird?", mode="hybrid", num_answers=30, hybrid_retrieved=30).answers
    fragments = [a.text for a in pooled if len(bot.tokenizer.tokenize(a.text)) >= 6 and not a.text.endswith(".")]
    assert {a.source for a in pooled} == {"generated", "retrieved"} and not fragments, pooled
    # An index made before answers were mended holds the fragments: replies are still whole sentences.
    from deepqa.data.dataset import Dataset

    answers = [row for row in (Dataset.load(data).samples.answer(i) for i in range(60)) if len(row)]
    old = ResponseIndex.build(answers, bot.ranker.model.responses, bot.ranker.index.idf)
    assert max(len(old.answer(i)) for i in range(len(old))) == 6
    old.save(tmp_path / "save" / "cut" / RANKER_INDEX)
    ranked = Chatbot.load(tmp_path / "save" / "cut").reply("question 4 bird?", mode="rank", num_answers=30).answers
    assert ranked and all(answer.text.endswith(".") for answer in ranked), ranked


def test_answers_with_words_outside_the_vocabulary_are_indexed_and_replied_with_those_words(tmp_path):
    """Each answer names a friend seen once, outside a vocabulary of the words seen twice: the index keeps these
    answers with the names, and replies show the names, never <unk>."""
    from tests.conftest import WORDS

    names = [f"zorb{chr(97 + i % 26)}{chr(97 + i // 26)}x" for i in range(40)]
    pairs = [(f"who is friend {WORDS[i % 10]} {i}?", f"my friend is {name}.") for i, name in enumerate(names)]
    bot, _ = ranked_bot(tmp_path, pairs, "names", "vocab.min_count=2")
    assert "zorbaax" not in bot.vocabulary
    written = {f"My friend is {name}." for name in names}
    index = bot.ranker.index
    indexed = {bot.tokenizer.detokenize(bot.vocabulary.decode(index.answer(i), unknown_words=index.answer_words(i)))
               for i in range(len(index))}
    assert len(indexed) >= 25 and indexed <= written, indexed  # every training answer, each with its name
    ranked = bot.reply("who is friend bird 5?", mode="rank", num_answers=5).answers
    assert len(ranked) == 5 and {answer.text for answer in ranked} <= written, ranked
    pooled = bot.reply("who is friend bird 5?", mode="hybrid", num_answers=30, hybrid_retrieved=10).answers
    retrieved = {answer.text for answer in pooled if answer.source == "retrieved"}
    assert len(retrieved) == 10 and retrieved <= written and not any("<unk>" in a.text for a in pooled), pooled
    # A name the towers read as <unk> still matches itself in the lexical part: asked about it, the bot answers with it.
    for answer in sorted(indexed)[:5]:
        name = answer.split()[-1].rstrip(".")
        assert bot.reply(f"is {name} here?", mode="rank").text == answer
        assert bot.reply(f"is {name} here?", mode="hybrid", hybrid_retrieved=10).text == answer
    # Named before more words than the towers read, the name still counts in the lexical part, and evaluation
    # reads a case's context as a reply does.
    filler = " ".join(WORDS[j % 10] for j in range(bot.config.samples.max_question_length))
    for answer in sorted(indexed)[:5]:
        name = answer.split()[-1].rstrip(".")
        question = f"is {name} here? {filler}"
        assert UNK not in bot.encode_turns(question)  # the towers' row is cut before the name
        assert bot.reply(question, mode="rank").text == answer
        case = encode_cases(bot, [Case([f"who is {name}?", question], answer, ["no."])])[0]
        np.testing.assert_array_equal(case.context_lexical,
                                      bot.encode_turns_lexically(question, [f"who is {name}?"])[1])
