"""The OpenAPI 3 document of the ``/api/v1`` endpoints; the decoding options come from ``[decode]``'s settings
and the strategy registry, so the document always says what the API accepts."""

from __future__ import annotations

from deepqa.config import DecodeConfig
from deepqa.registry import STRATEGIES

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
SCHEMA_KEYS = ("type", "minimum", "maximum", "enum", "description")


def decoding_schema(beam_widths: list[int] | None = None, max_num_answers: int | None = None) -> dict:
    """The ``decoding`` object: each key a request may set, typed and bounded as ``[decode]`` declares it, and
    narrowed to what a server serves (its beam widths, its most answers) when those are given."""
    fields = DecodeConfig.model_json_schema()["properties"]
    properties = {key: {name: value for name, value in fields[key].items() if name in SCHEMA_KEYS}
                  for key in DecodeConfig.request_keys()}
    properties["strategy"] = {"type": "string", "enum": STRATEGIES.names()}
    if beam_widths:
        properties["beam_width"] = {"type": "integer", "enum": beam_widths}
    if max_num_answers:
        for key in ("num_answers", "hybrid_samples"):
            properties[key]["maximum"] = min(properties[key].get("maximum", max_num_answers), max_num_answers)
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _errors(*statuses: int) -> dict:
    return {str(s): {"description": "error", "content": {"application/json": {"schema": ERROR}}} for s in statuses}


def _json(schema: dict, description: str = "ok") -> dict:
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}


def openapi_document(beam_widths: list[int] | None = None, max_num_answers: int | None = None) -> dict:
    """The API described in OpenAPI 3.0 (with a server's served beam widths and most answers when given)."""
    question = {"type": "object", "properties": {
        "question": {"type": "string", "minLength": 1}, "message": {"type": "string", "minLength": 1},
        "context": {"type": "array", "items": {"type": "string"}},
        "session_id": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9._:@-]+$"},
        "decoding": decoding_schema(beam_widths, max_num_answers)}}
    answer = {"type": "object", "required": ["answer", "exchange_id", "model", "latency_ms"], "properties": {
        "answer": {"type": "string"}, "exchange_id": {"type": "string"}, "model": {"type": "string"},
        "latency_ms": {"type": "number"},
        "answers": {"type": "array", "items": {"type": "object", "properties": {
            "text": {"type": "string"}, "score": {"type": "number"},
            "source": {"type": "string", "enum": ["generated", "retrieved"]}}}}}}
    feedback = {"type": "object", "required": ["exchange_id", "rating"], "properties": {
        "exchange_id": {"type": "string"}, "rating": {"type": "integer", "enum": [1, -1]},
        "comment": {"type": "string"}}}
    body = lambda schema: {"required": True, "content": {"application/json": {"schema": schema}}}  # noqa: E731
    return {
        "openapi": "3.0.3",
        "info": {"title": "deepqa", "version": "1", "description": "Ask a trained seq2seq chatbot."},
        "paths": {
            "/api/v1/question": {"post": {"summary": "Answer a question", "requestBody": body(question),
                                          "responses": {**_json(answer), **_errors(400, 401, 413, 415, 429, 503)}}},
            "/api/v1/feedback": {"post": {"summary": "Rate an answer", "requestBody": body(feedback),
                                          "responses": {**_json({"type": "object"}), **_errors(400, 401, 404, 413, 415, 429)}}},
            "/api/v1/health": {"get": {"summary": "Liveness: the process answers (no API key needed)",
                                       "security": [],
                                       "responses": _json({"type": "object", "required": ["status"],
                                                           "properties": {"status": {"enum": ["ok"]}}})}},
            "/api/v1/ready": {"get": {"summary": "Readiness: a model is loaded and compiled; how many batches were "
                                                 "decoded holding how many questions, and failed stores",
                                      "responses": {**_json({"type": "object", "required": ["status", "model"],
                                                             "properties": {"status": {"enum": ["ready"]},
                                                                            "model": {"type": "string"},
                                                                            "batches": {"type": "integer"},
                                                                            "questions": {"type": "integer"},
                                                                            "store_errors": {"type": "integer"}}}),
                                                    **_errors(401, 429, 503)}}},
            "/api/v1/model": {"get": {"summary": "The loaded model", "responses": {**_json({"type": "object"}),
                                                                                 **_errors(401, 429, 503)}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {**_json({"type": "object"}),
                                                                                       **_errors(401, 429)}}},
        },
    }
