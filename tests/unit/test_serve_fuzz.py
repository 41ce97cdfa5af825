"""Property-based fuzzing of the API against its OpenAPI document: whatever the body, the answer is
JSON, its status is one the document lists for that path, and errors have the documented shape."""


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepqa.config import with_values
from serve.app import create_app
from serve.openapi import openapi_document
from tests.unit.test_serve import bot  # noqa: F401  (the module's tiny trained run)

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
                           | st.text(max_size=40), lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
DECODING = st.fixed_dictionaries({}, optional={
    "strategy": st.sampled_from(["greedy", "beam", "sample", "best", ""]) | JSON_VALUES,
    "beam_width": st.integers(-2, 70) | JSON_VALUES, "num_answers": st.integers(-1, 70),
    "top_k": st.integers(-5, 50), "top_p": st.floats(-1, 2, allow_nan=False), "temperature": st.floats(-1, 200),
    "max_length": st.integers(-3, 100), "repetition_penalty": st.floats(0, 20), "no_repeat_ngram_size": st.integers(-1, 9)})
QUESTIONS = st.fixed_dictionaries({}, optional={
    "question": st.text(max_size=60) | JSON_VALUES, "message": st.text(max_size=20),
    "context": st.lists(st.text(max_size=20), max_size=3) | JSON_VALUES, "session_id": st.text(max_size=8) | JSON_VALUES,
    "decoding": DECODING | JSON_VALUES}) | JSON_VALUES
FEEDBACK = st.fixed_dictionaries({}, optional={
    "exchange_id": st.text(max_size=34) | JSON_VALUES, "rating": st.sampled_from([1, -1, 0, 2, True]) | JSON_VALUES,
    "comment": st.text(max_size=30) | JSON_VALUES}) | JSON_VALUES


@pytest.fixture(scope="module")
def client(bot, tmp_path_factory):  # noqa: F811
    database = tmp_path_factory.mktemp("fuzz") / "db.sqlite3"
    config = bot.config.with_sections(serve=with_values("serve", bot.config.serve, {"database": str(database)}),
                                      decode=with_values("decode", bot.config.decode, {"max_length": 4}))
    return create_app(config, bot).test_client()


def check(response, path: str, method: str):
    documented = openapi_document()["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    body = response.get_json()
    if response.status_code >= 400:
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    elif path == "/api/v1/question":
        assert isinstance(body["answer"], str) and isinstance(body["latency_ms"], float | int)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=QUESTIONS)
def test_question_endpoint_never_fails_outside_its_document(client, body):
    check(client.post("/api/v1/question", json=body), "/api/v1/question", "post")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=FEEDBACK)
def test_feedback_endpoint_never_fails_outside_its_document(client, body):
    check(client.post("/api/v1/feedback", json=body), "/api/v1/feedback", "post")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_raw_bodies_are_json_errors(client, raw, content_type):
    check(client.post("/api/v1/question", data=raw, content_type=content_type), "/api/v1/question", "post")
