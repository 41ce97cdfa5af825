"""The HTTP API through Flask's test client: answers, every error status, API key, sessions, feedback,
the SQLite store and its export, and batched answers equal to unbatched ones."""

import json
import threading

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from deepqa.inference.chatbot import Chatbot
from deepqa.cli import main
from deepqa.config import with_values
from deepqa.errors import ConfigError
from serve.api import ToStore
from serve.app import create_app
from serve.store import ConversationStore, Exchange, StoreError
from tests.conftest import make_config



@pytest.fixture(scope="module")
def bot(tiny_run):
    return Chatbot.load(tiny_run)


def test_settings_changed_after_loading_rebuild_generation_when_xla_changes(bot):
    fresh = Chatbot.load(bot.run_dir)
    assert not fresh.decoder.xla
    fresh.configure(["decode.strategy=greedy", "serve.max_batch=4"])
    assert not fresh.decoder.xla and fresh.config.decode.strategy == "greedy" and fresh.config.serve.max_batch == 4
    fresh.configure(["decode.xla=true"])
    assert fresh.decoder.xla and fresh.decoder.batch_size_for(5) == 6
    assert isinstance(fresh.reply("question 1 about 1?").text, str)
    with pytest.raises(ConfigError, match=r"only \[decode\], \[eval\] and \[serve\]"):
        fresh.configure(["model.type=transformer"])


def make_client(bot, tmp_path, **serve):
    config = bot.config.with_sections(serve=with_values(
        "serve", bot.config.serve, {"database": str(tmp_path / "db.sqlite3"), **serve}))
    app = create_app(config, bot)
    return app.test_client(), app


def test_question_answer_and_deepqa2_message(bot, tmp_path):
    client, _ = make_client(bot, tmp_path, allowed_beam_widths=[3, 4])
    reply = client.post("/api/v1/question", json={"question": "question 3 about 3?"})
    assert reply.status_code == 200
    body = reply.get_json()
    assert set(body) == {"answer", "exchange_id", "model", "latency_ms"} and body["model"] == "tiny"
    legacy = client.post("/api/v1/question", json={"message": "question 3 about 3?"})
    assert legacy.status_code == 200 and legacy.get_json()["answer"] == body["answer"]
    several = client.post("/api/v1/question", json={"question": "hi", "decoding": {"strategy": "beam", "beam_width": 3,
                                                                                    "num_answers": 3}})
    answers = several.get_json()["answers"]
    assert len(answers) == 3 and [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)


@pytest.mark.parametrize("request_kwargs, status, code", [
    ({"data": "{not json", "content_type": "application/json"}, 400, "bad_json"),
    ({"json": ["a list"]}, 400, "bad_json"),
    ({"json": {}}, 400, "missing_field"),
    ({"json": {"question": "   "}}, 400, "empty_question"),
    ({"json": {"question": 42}}, 400, "wrong_type"),
    ({"json": {"question": "hi", "context": "not a list"}}, 400, "wrong_type"),
    ({"json": {"question": "hi", "decoding": {"beam_width": 0}}}, 400, "bad_decoding"),
    ({"json": {"question": "hi", "decoding": {"top_p": "high"}}}, 400, "bad_decoding"),
    ({"json": {"question": "hi", "decoding": {"beams": 3}}}, 400, "bad_decoding"),
    ({"json": {"question": "x" * 1001}}, 413, "question_too_long"),
    ({"data": "question=hi", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ({"json": {"question": "x" * 70000}}, 413, "body_too_large"),
    # Hostile input: refused before any work or change of state.
    ({"data": '{"question": "a\\ud800b"}', "content_type": "application/json"}, 400, "bad_text"),
    ({"data": '{"question": "hi", "context": ["\\udfff"]}', "content_type": "application/json"}, 400, "bad_text"),
    ({"data": '{"question": "hi", "session_id": "s\\ud800"}', "content_type": "application/json"}, 400, "bad_text"),
    ({"json": {"question": "hi", "session_id": "x" * 129}}, 400, "bad_session_id"),
    ({"json": {"question": "hi", "session_id": "a b"}}, 400, "bad_session_id"),
    ({"data": '{"question": "hi", "context": ' + "[" * 1000 + "]" * 1000 + "}", "content_type": "application/json"},
     400, "bad_json"),
    ({"data": '{"question": "hi", "decoding": {"top_p": NaN}}', "content_type": "application/json"}, 400,
     "bad_decoding"),
    ({"json": {"question": "hi", "decoding": {"no_repeat_ngram_size": 7}}}, 400, "bad_decoding"),
    ({"json": {"question": "hi", "decoding": {"top_k": 2 ** 63}}}, 400, "bad_decoding"),
])
def test_errors_are_json_with_the_right_status(bot, tmp_path, request_kwargs, status, code):
    client, _ = make_client(bot, tmp_path)
    reply = client.post("/api/v1/question", **request_kwargs)
    assert reply.status_code == status and reply.is_json
    assert reply.get_json()["error"]["code"] == code and reply.get_json()["error"]["message"]


def test_nesting_depth_skips_brackets_in_strings():
    from serve.api import nesting_depth

    assert nesting_depth(b'{"a": [1, {"b": "[[[{"}]}') == 3
    assert nesting_depth(b'{"a": "\\"[["}') == 1 and nesting_depth(b'"x"') == 0


def test_a_store_failure_still_answers_and_is_counted(bot, tmp_path, monkeypatch, caplog):
    client, app = make_client(bot, tmp_path)
    state = app.extensions["deepqa"]

    def full_disk(*arguments):
        raise StoreError("database or disk is full")

    monkeypatch.setattr(state.store, "record_all", full_disk)
    reply = client.post("/api/v1/question", json={"question": "question 3 about 3?", "session_id": "u1"})
    assert reply.status_code == 200 and reply.get_json()["exchange_id"] is None and reply.get_json()["answer"]
    assert "could not be stored" in caplog.text
    assert client.get("/api/v1/ready").get_json()["store_errors"] == 1
    assert state.store.context("u1") == []  # the exchange is the session's turn: neither was kept


def test_a_question_that_times_out_in_the_queue_is_not_stored(bot, tmp_path):
    client, app = make_client(bot, tmp_path, request_timeout_s=0.1)
    batcher = app.extensions["deepqa"].batcher
    started, release, original = threading.Event(), threading.Event(), batcher.answer

    def held(jobs):
        started.set()
        release.wait(timeout=120)
        return original(jobs)

    batcher.answer = held
    bot_served = app.extensions["deepqa"].bot
    options = bot_served.check_options(bot_served.config.decode)
    first = batcher.submit("question 1 about 1?", None, options, ToStore(None, {}, "first"))  # the batch decoding
    assert started.wait(timeout=120)
    late = client.post("/api/v1/question", json={"question": "question 2 about 2?"})  # queued behind it
    release.set()
    assert first.result(timeout=120).exchange_id is not None
    assert late.status_code == 503 and late.get_json()["error"]["code"] == "timeout"
    assert [row["question"] for row in app.extensions["deepqa"].store.exchanges()] == ["question 1 about 1?"]


def test_a_lost_database_still_answers_questions_and_refuses_feedback(bot, tmp_path, caplog):
    client, app = make_client(bot, tmp_path)
    first = client.post("/api/v1/question", json={"question": "question 1 about 1?", "session_id": "u1"})
    (tmp_path / "db.sqlite3").unlink()  # the file goes away under a running server
    for name in ("db.sqlite3-wal", "db.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    app.extensions["deepqa"].store.engine.dispose()
    (tmp_path / "db.sqlite3").mkdir()  # and something that is not a database takes its place
    reply = client.post("/api/v1/question", json={"question": "question 2 about 2?", "session_id": "u1"})
    assert reply.status_code == 200 and reply.get_json()["answer"] and reply.get_json()["exchange_id"] is None
    feedback = client.post("/api/v1/feedback", json={"exchange_id": first.get_json()["exchange_id"], "rating": 1})
    assert feedback.status_code == 503 and feedback.get_json()["error"]["code"] == "store_unavailable"
    assert client.get("/api/v1/ready").get_json()["store_errors"] == 3  # context, exchange, feedback


def test_metrics_count_requests_batches_and_no_compilation_after_ready(bot, tmp_path):
    bot.warm_up(1, [2, 4], 2)  # as the server does before it is ready
    client, _ = make_client(bot, tmp_path, allowed_beam_widths=[2, 4], max_num_answers=2, max_batch=1)
    for question in ("question 1 about 1?", "question 2 about 2?"):
        assert client.post("/api/v1/question", json={"question": question}).status_code == 200
    client.post("/api/v1/question", json={})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'deepqa_requests_total{endpoint="/api/v1/question",status="200"} 2.0' in text
    assert 'deepqa_requests_total{endpoint="/api/v1/question",status="400"} 1.0' in text
    # How many batches and requests the histograms observed (counts of observations, not durations).
    observed = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}
    assert observed[("deepqa_batch_size_count", ())] == 2 and observed[("deepqa_decode_seconds_count", ())] == 2
    assert observed[("deepqa_request_seconds_count", (("endpoint", "/api/v1/question"),))] == 3
    assert "deepqa_queue_depth 0.0" in text and 'deepqa_model_info{architecture="lstm"' in text
    for decoding in ({"beam_width": 2}, {"beam_width": 4, "num_answers": 2}, {"strategy": "greedy"},
                     {"strategy": "sample", "num_answers": 2}):
        assert client.post("/api/v1/question", json={"question": "hi", "decoding": decoding}).status_code == 200
    assert "deepqa_compilations_after_ready 0.0" in client.get("/metrics").get_data(as_text=True)
    schema = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/question"]["post"]["requestBody"]
    decoding = schema["content"]["application/json"]["schema"]["properties"]["decoding"]["properties"]
    assert decoding["beam_width"]["enum"] == [2, 4] and decoding["num_answers"]["maximum"] == 2
    for decoding, words in (({"beam_width": 7}, "not served here"), ({"num_answers": 3}, "at most 2")):
        refused = client.post("/api/v1/question", json={"question": "hi", "decoding": decoding})
        assert refused.status_code == 400 and words in refused.get_json()["error"]["message"]


def test_json_log_lines_carry_the_request_id(bot, tmp_path):
    import io
    import logging

    from deepqa.log import show_messages

    client, _ = make_client(bot, tmp_path, log_format="json")
    show_messages(json_lines=True)
    handler = next(h for h in logging.getLogger("deepqa").handlers if getattr(h, "deepqa", False))
    stream = io.StringIO()
    saved = handler.setStream(stream)
    try:
        reply = client.post("/api/v1/question", json={"question": "hi"}, headers={"X-Request-Id": "abc-123"})
        minted = client.get("/api/v1/health").headers["X-Request-Id"]
    finally:
        handler.setStream(saved)
        show_messages()
    assert reply.headers["X-Request-Id"] == "abc-123" and len(minted) == 32
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {"request_id": "abc-123", "path": "/api/v1/question", "status": 200, "message": "request"}.items() \
        <= lines[0].items()
    assert lines[1]["request_id"] == minted and lines[0]["level"] == "info" and lines[0]["time"].endswith("Z")


def test_unknown_paths_and_methods_are_json(bot, tmp_path):
    client, _ = make_client(bot, tmp_path)
    assert client.get("/api/v1/nothing").get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/question").status_code == 405


def test_no_model_is_503(tmp_path):
    config = make_config(f"serve.database={tmp_path / 'db.sqlite3'}")
    client = create_app(config, None).test_client()
    assert client.post("/api/v1/question", json={"question": "hi"}).status_code == 503
    assert client.get("/api/v1/health").get_json()["status"] == "ok"  # alive
    not_ready = client.get("/api/v1/ready")
    assert not_ready.status_code == 503 and not_ready.get_json()["status"] == "no_model"


def test_api_key_and_rate_limit(bot, tmp_path):
    client, _ = make_client(bot, tmp_path, api_key="s3cret", rate_limit_per_minute=4)
    for _ in range(5):
        assert client.get("/api/v1/health").status_code == 200  # liveness needs no key and is never limited
    assert client.get("/api/v1/ready").status_code == 401
    assert client.get("/api/v1/ready", headers={"Authorization": "Bearer wrong"}).status_code == 401
    good = {"Authorization": "Bearer s3cret"}
    assert client.get("/api/v1/ready", headers=good).status_code == 200
    assert client.get("/api/v1/model", headers=good).get_json()["vocabulary_size"] == len(bot.vocabulary)
    limited = client.get("/api/v1/ready", headers=good)  # every request counts, refused ones too
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "rate_limited"
    assert "4 requests in a minute" in limited.get_json()["error"]["message"]
    assert client.get("/").status_code == 200  # the page is not the API


def test_rate_limit_storage_that_cannot_be_used_is_a_config_error(bot, tmp_path):
    with pytest.raises(ConfigError, match="rate_limit_storage 'nowhere://x' cannot be used"):
        make_client(bot, tmp_path, rate_limit_per_minute=5, rate_limit_storage="nowhere://x")


def test_the_limiter_is_installed_only_with_a_limit(bot, tmp_path):
    assert "limiter" not in make_client(bot, tmp_path)[1].extensions
    assert "limiter" in make_client(bot, tmp_path, rate_limit_per_minute=5)[1].extensions
    assert "limiter" in make_client(bot, tmp_path, api_key="s3cret")[1].extensions  # failed keys are limited


def test_failed_api_keys_are_limited_per_client(bot, tmp_path):
    client, _ = make_client(bot, tmp_path, api_key="s3cret", failed_key_limit_per_minute=3)
    wrong, good = {"Authorization": "Bearer nope"}, {"Authorization": "Bearer s3cret"}
    assert [client.get("/api/v1/ready", headers=wrong).status_code for _ in range(3)] == [401, 401, 401]
    blocked = client.get("/api/v1/ready", headers=good)
    assert blocked.status_code == 429 and "failed API keys" in blocked.get_json()["error"]["message"]
    other = {"REMOTE_ADDR": "10.0.0.9"}
    assert client.get("/api/v1/ready", headers=good, environ_base=other).status_code == 200


def test_client_address_from_trusted_proxies_only(bot, tmp_path):
    forwarded = lambda address: {"X-Forwarded-For": address}  # noqa: E731
    direct, _ = make_client(bot, tmp_path, rate_limit_per_minute=1)
    assert direct.get("/api/v1/ready", headers=forwarded("1.1.1.1")).status_code == 200
    assert direct.get("/api/v1/ready", headers=forwarded("2.2.2.2")).status_code == 429  # the header is not trusted
    proxied, _ = make_client(bot, tmp_path, rate_limit_per_minute=1, trusted_proxies=1)
    assert proxied.get("/api/v1/ready", headers=forwarded("1.1.1.1")).status_code == 200
    assert proxied.get("/api/v1/ready", headers=forwarded("2.2.2.2")).status_code == 200
    assert proxied.get("/api/v1/ready", headers=forwarded("1.1.1.1")).status_code == 429


def test_sessions_carry_context(bot, tmp_path):
    client, app = make_client(bot, tmp_path)
    client.post("/api/v1/question", json={"question": "question 1 about 1?", "session_id": "s1"})
    store = app.extensions["deepqa"].store
    assert store.context("s1")[0] == "question 1 about 1?" and len(store.context("s1")) == 2
    assert store.context("other") == []
    first_turns = store.context("s1")
    assert client.post("/api/v1/question", json={"question": "question 2 about 2?", "session_id": "s1"}).status_code == 200
    assert store.exchanges()[-1]["context"] == first_turns  # the second question was asked after the first exchange


def test_session_turns_are_bounded_and_expire(tmp_path):
    bounded = ConversationStore(tmp_path / "db.sqlite3", session_turns=3, session_max_age_s=3600)
    for turn in range(3):
        bounded.record("a", f"q{turn}", [], f"a{turn}", {}, 1.0, "m")
    last = bounded.exchanges()[-1]["time"]  # the clock is given, never read: no test depends on speed
    assert bounded.context("a", now=last + 3600) == ["a1", "q2", "a2"]  # the last three turns, oldest first
    assert bounded.context("a", now=last + 3601) == []  # idle too long
    bounded.record("b", "q", [], "a", {}, 1.0, "m")
    assert bounded.context("b") == ["q", "a"] and bounded.context("c") == []
    assert ConversationStore(tmp_path / "other.sqlite3", session_turns=0).context("a") == []


def test_feedback_store_and_export_round_trip(bot, tmp_path, monkeypatch):
    client, _ = make_client(bot, tmp_path)
    ids = [client.post("/api/v1/question", json={"question": f"question {i} about {i}?", "context": ["hello"]})
           .get_json()["exchange_id"] for i in range(3)]
    assert client.post("/api/v1/feedback", json={"exchange_id": ids[0], "rating": 1, "comment": "good"}).status_code == 200
    assert client.post("/api/v1/feedback", json={"exchange_id": ids[1], "rating": -1}).status_code == 200
    assert client.post("/api/v1/feedback", json={"exchange_id": ids[1], "rating": 2}).status_code == 400
    assert client.post("/api/v1/feedback", json={"exchange_id": "nope", "rating": 1}).status_code == 404
    surrogate = client.post("/api/v1/feedback", data=json.dumps({"exchange_id": ids[2], "rating": 1})[:-1]
                            + ', "comment": "\\ud800"}', content_type="application/json")
    assert surrogate.status_code == 400 and surrogate.get_json()["error"]["code"] == "bad_text"
    store = ConversationStore(tmp_path / "db.sqlite3")
    assert [row["rating"] for row in store.exchanges()] == [1, -1, 0]
    out = tmp_path / "log.jsonl"
    # The database comes from the same [serve] settings the server reads: here the environment's.
    monkeypatch.setenv("DEEPQA_SERVE_DATABASE", str(tmp_path / "db.sqlite3"))
    assert main(["export-log", "--out", str(out), "--min-rating", "1"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["turns"][:2] == ["hello", "question 0 about 0?"]
    config = make_config("corpus.format=jsonl", f"corpus.path={out}", "samples.valid_fraction=0", "samples.test_fraction=0")
    from deepqa.data.prepare import prepare

    assert prepare(config, tmp_path / "retrain")["pairs"]["kept"] == 2


def test_the_exchanges_of_a_batch_are_stored_together(tmp_path):
    store = ConversationStore(tmp_path / "batch.sqlite3")
    ids = store.record_all([Exchange("a", "q1", [], "a1", {"beam_width": 4}, 1.0, "m"),
                            Exchange("b", "q2", ["x", "y"], "a2", {}, 2.0, "m")])
    stored = {row["id"]: row for row in store.exchanges()}
    assert len(set(ids)) == 2 and set(stored) == set(ids) and stored[ids[1]]["context"] == ["x", "y"]
    assert store.context("a") == ["q1", "a1"] and store.context("b") == ["q2", "a2"]


def test_store_keeps_days_and_knows_its_schema_version(tmp_path):
    import sqlite3
    import time

    from deepqa.errors import DatasetError

    path = tmp_path / "db.sqlite3"
    store = ConversationStore(path, keep_days=2)
    old = store.record(None, "old?", [], "yes", {}, 1.0, "m")
    new = store.record(None, "new?", [], "yes", {}, 1.0, "m")
    store.add_feedback(old, 1, None)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE exchanges SET time = ? WHERE id = ?", (time.time() - 3 * 86400, old))
    assert store.purge() == 1
    assert [row["id"] for row in store.exchanges()] == [new]
    store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0
        assert connection.execute("SELECT version FROM deepqa_schema").fetchall() == [(2,)]
        connection.execute("UPDATE deepqa_schema SET version = 99")
    with pytest.raises(DatasetError, match="newer than this deepqa"):
        ConversationStore(path)


def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as connection:  # the schema deepqa wrote before sessions moved into the store
        connection.executescript("""
            CREATE TABLE exchanges (id TEXT PRIMARY KEY, time REAL NOT NULL, session TEXT, question TEXT NOT NULL,
                context TEXT NOT NULL, answer TEXT NOT NULL, decoding TEXT NOT NULL, latency_ms REAL NOT NULL,
                model TEXT NOT NULL);
            CREATE TABLE feedback (exchange_id TEXT NOT NULL REFERENCES exchanges(id), time REAL NOT NULL,
                rating INTEGER NOT NULL, comment TEXT);
            INSERT INTO exchanges VALUES ('e1', 1.0, 's', 'hi?', '[]', 'hello', '{}', 3.0, 'm');
            PRAGMA user_version = 1;""")
    store = ConversationStore(path)
    assert [row["question"] for row in store.exchanges()] == ["hi?"]
    assert store.add_feedback("e1", 1, "kept") and store.exchanges(min_rating=1)[0]["id"] == "e1"
    with sqlite3.connect(path) as connection:
        indexes = {row[1] for row in connection.execute("PRAGMA index_list(exchanges)")}
    assert "exchanges_session_time" in indexes


def test_batched_answers_equal_unbatched(bot, tmp_path):
    client, _ = make_client(bot, tmp_path, max_batch=8, max_wait_ms=200)
    questions = [f"question {i} about {i % 5}?" for i in range(8)]
    alone = {q: client.post("/api/v1/question", json={"question": q}).get_json()["answer"] for q in questions}
    batched_client, app = make_client(bot, tmp_path, max_batch=8, max_wait_ms=200)
    sizes, commits = [], []
    original = app.extensions["deepqa"].batcher.answer
    app.extensions["deepqa"].batcher.answer = lambda jobs: sizes.append(len(jobs)) or original(jobs)
    sa.event.listen(app.extensions["deepqa"].store.engine, "commit", lambda connection: commits.append(1))
    results = {}

    def ask(question):
        results[question] = batched_client.post("/api/v1/question", json={"question": question}).get_json()["answer"]

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == alone
    assert max(sizes) > 1
    health = batched_client.get("/api/v1/ready").get_json()
    assert health["questions"] == len(questions) and health["batches"] == len(sizes) < len(questions)
    assert len(commits) == len(sizes)  # a batch's exchanges are stored in one transaction
    stored = [row["question"] for row in app.extensions["deepqa"].store.exchanges()]
    assert sorted(stored) == sorted(questions * 2)  # those answered alone, then those answered in batches
