"""Past one machine: the store on a real PostgreSQL, and two `deepqa serve` replicas sharing one PostgreSQL
database and one Redis, between which a conversation moves with its context and a client's limit holds."""

import sys
import uuid

import pytest
import sqlalchemy as sa

from deepqa.errors import DatasetError
from serve.store import ConversationStore
from tests.integration.servers import Server, call, run  # noqa: F401 (run: a fixture)

pytestmark = pytest.mark.integration


def fresh_database(server_url: str) -> str:
    """A new, empty database on the PostgreSQL server of ``server_url``; its URL."""
    name = f"deepqa_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def test_store_on_postgresql(postgres_url, tmp_path):
    import json
    import time

    from deepqa.cli import main

    url = fresh_database(postgres_url)
    store = ConversationStore(url, keep_days=1, session_turns=4)
    first = store.record("s", "where are you from? 你好", [], "from here", {"beam_width": 4}, 3.5, "m")
    store.record("s", "and you?", ["where are you from? 你好", "from here"], "me too", {}, 2.0, "m")
    old = store.record(None, "old?", [], "yes", {}, 1.0, "m")
    assert store.context("s") == ["where are you from? 你好", "from here", "and you?", "me too"]
    assert store.add_feedback(first, 1, "good") and not store.add_feedback("nope", 1, None)
    assert [row["rating"] for row in store.exchanges()] == [1, 0, 0]
    assert store.exchanges(min_rating=1)[0]["context"] == []
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE exchanges SET time = :t WHERE id = :i"), {"t": time.time() - 2 * 86400,
                                                                                    "i": old})
    assert store.purge() == 1 and len(store.exchanges()) == 2
    assert main(["export-log", "--database", url, "--out", str(tmp_path / "log.jsonl"), "--min-rating", "1"]) == 0
    assert [json.loads(line)["turns"] for line in (tmp_path / "log.jsonl").read_text().splitlines()] == [
        ["where are you from? 你好", "from here"]]
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE deepqa_schema SET version = 99"))
    store.close()
    with pytest.raises(DatasetError, match="newer than this deepqa"):
        ConversationStore(url)


def test_an_unreachable_database_is_one_clear_error(postgres_url):
    from tests.services import free_ports

    url = sa.make_url(postgres_url).set(port=free_ports()[0]).render_as_string(hide_password=False)
    with pytest.raises(DatasetError, match="cannot be opened"):
        ConversationStore(url)


def replica(run, database, redis, limit):
    return lambda port: [sys.executable, "-m", "deepqa", "serve", "--run", str(run), "--port", str(port),
                         "--set", f"serve.database={database}", "--set", f"serve.rate_limit_storage={redis}",
                         "--set", f"serve.rate_limit_per_minute={limit}", "--set", "decode.strategy=greedy"]


def test_two_replicas_share_conversations_and_limits(run, postgres_url, redis_url):
    database = fresh_database(postgres_url)
    limit = 8
    first = Server(replica(run, database, redis_url, limit))
    try:
        second = Server(replica(run, database, redis_url, limit))
        try:
            urls = [first.url, second.url]
            questions = ["question 1 about 1?", "question 2 about 2?", "question 3 about 3?"]
            answers = []
            for turn, question in enumerate(questions):  # one conversation, alternating between the replicas
                status, body = call(urls[turn % 2] + "/api/v1/question", {"question": question, "session_id": "walk"})
                assert status == 200, (body, first.errors(), second.errors())
                answers.append(body["answer"])
            stored = ConversationStore(database).exchanges()
            assert [row["context"] for row in stored] == [
                [], [questions[0], answers[0]], [questions[0], answers[0], questions[1], answers[1]]]
            # The limit of 8 a minute holds across both: 3 questions, then 5 more requests, then refused.
            statuses = [call(urls[index % 2] + "/api/v1/ready")[0] for index in range(limit - len(questions) + 2)]
            assert statuses[:limit - len(questions)] == [200] * (limit - len(questions))
            assert statuses[-2:] == [429, 429], statuses
        finally:
            second.stop()
    finally:
        first.stop()
