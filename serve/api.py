"""The ``/api/v1`` blueprint: question, feedback, health (liveness), ready, model and the OpenAPI document.

Every error is JSON ``{"error": {"code": ..., "message": ...}}`` with its HTTP status; no user input
can produce a 500 or an HTML page: every input is checked (types, valid Unicode, bounds, nesting depth,
the session id's alphabet) before any work or change of state.
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass
from concurrent.futures import TimeoutError as FutureTimeout
from flask import Blueprint, current_app, g, jsonify, request

from deepqa.config import DecodeConfig, with_values
from deepqa.errors import ConfigError
from deepqa.log import get_logger
from deepqa.inference.chatbot import Reply
from serve.batcher import Job, QueueFull
from serve.openapi import openapi_document
from serve.store import Exchange, StoreError

api = Blueprint("api", __name__, url_prefix="/api/v1")
LOG = get_logger(__name__)
OPEN_ENDPOINTS = {"api.health"}  # liveness: no key needed, nothing revealed
MAX_NESTING = 32
SESSION_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


class ApiError(Exception):
    """An error answered as JSON with an HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


@api.errorhandler(ApiError)
def _api_error(error: ApiError):
    return error_response(error.status, error.code, error.message)


def _state():
    return current_app.extensions["deepqa"]


@api.before_request
def _authorize():
    """The API key, when one is set (rate limits run before this, in the application's limiter)."""
    state = _state()
    if request.endpoint in OPEN_ENDPOINTS or not state.api_key:
        return
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
    if not hmac.compare_digest(token.encode(), state.api_key.encode()):
        raise ApiError(401, "unauthorized", "a valid 'Authorization: Bearer <api key>' header is required")


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in a JSON text (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _json_body() -> dict:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send a JSON body with Content-Type: application/json")
    if nesting_depth(request.get_data(cache=True)) > MAX_NESTING:
        raise ApiError(400, "bad_json", f"the body nests deeper than {MAX_NESTING} levels")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return body


def _text(body: dict, key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f"'{key}' is required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, "wrong_type", f"'{key}' must be a string")
    return _valid_unicode(value, key)


def _valid_unicode(value: str, key: str) -> str:
    """``value``, refused when it holds a lone surrogate (JSON may escape one; no text can be made of it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "bad_text", f"'{key}' is not valid Unicode (a lone surrogate)") from None
    return value


def _session_id(body: dict) -> str | None:
    session_id = _text(body, "session_id")
    if session_id is not None and not SESSION_ID.fullmatch(session_id):
        raise ApiError(400, "bad_session_id", "'session_id' must be 1 to 128 letters, digits or . _ : @ -")
    return session_id


def _question_text(body: dict, limit: int) -> str:
    question = _text(body, "question") if "question" in body else _text(body, "message")
    if question is None:
        raise ApiError(400, "missing_field", "'question' is required")
    if not question.strip():
        raise ApiError(400, "empty_question", "'question' must not be empty")
    if len(question) > limit:
        raise ApiError(413, "question_too_long", f"'question' is longer than {limit} characters")
    return question


def _context(body: dict, limit: int) -> list[str] | None:
    context = body.get("context")
    if context is None:
        return None
    if not isinstance(context, list) or not all(isinstance(turn, str) for turn in context):
        raise ApiError(400, "wrong_type", "'context' must be a list of strings")
    for turn in context:
        _valid_unicode(turn, "context")
    if sum(len(turn) for turn in context) > 10 * limit:
        raise ApiError(413, "context_too_long", f"'context' is longer than {10 * limit} characters")
    return context


def _options(body: dict, base):
    decoding = body.get("decoding") or {}
    if not isinstance(decoding, dict):
        raise ApiError(400, "wrong_type", "'decoding' must be an object")
    accepted = DecodeConfig.request_keys()
    unknown = sorted(set(decoding) - set(accepted))
    if unknown:
        raise ApiError(400, "bad_decoding", f"unknown decoding option '{unknown[0]}'; accepted: {', '.join(accepted)}")
    try:
        options = _state().bot.check_options(with_values("decode", base, decoding) if decoding else base)
    except ConfigError as exc:
        raise ApiError(400, "bad_decoding", str(exc).replace("[decode] ", "")) from None
    return _served(options, base)


def _served(options, base):
    """``options``, refused when they would need a graph the server did not build before it was ready."""
    serve = _state().config.serve
    widths = serve.served_beam_widths(base)
    uses_beam = options.mode == "hybrid" or (options.mode == "generate" and options.strategy == "beam")
    if uses_beam and options.beam_width not in widths:
        raise ApiError(400, "bad_decoding", f"beam_width {options.beam_width} is not served here; "
                                            f"allowed: {', '.join(map(str, widths))} ([serve] allowed_beam_widths)")
    for key in ("num_answers", "hybrid_samples"):
        if getattr(options, key) > serve.max_num_answers:
            raise ApiError(400, "bad_decoding", f"{key} may be at most {serve.max_num_answers} here "
                                                f"([serve] max_num_answers)")
    return options


@api.post("/question")
def question():
    state = _state()
    settings = state.config.serve
    if state.bot is None:
        _question_fields(_json_body(), settings.max_question_chars)  # bad input is still answered 400
        raise ApiError(503, "no_model", "no model is loaded")
    with state.batcher.request():
        return _answer(state)


def _question_fields(body: dict, limit: int) -> tuple[str, list[str] | None, str | None]:
    """The request's question, context and session id, each checked."""
    return _question_text(body, limit), _context(body, limit), _session_id(body)


def _answer(state):
    """Read and check the question (a batch being gathered may wait for it meanwhile), then answer it."""
    settings = state.config.serve
    with state.batcher.arriving():
        body = _json_body()
        text, context, session_id = _question_fields(body, settings.max_question_chars)
        options = _options(body, state.bot.config.decode)
        if context is None and session_id:
            context = _session_context(state, session_id)
        decoding = {key: getattr(options, key) for key in DecodeConfig.request_keys()}
        try:
            future = state.batcher.submit(text, context, options, ToStore(session_id, decoding, g.request_id))
        except QueueFull:
            raise ApiError(429, "queue_full", "too many questions are waiting; try again shortly") from None
    try:
        answered = future.result(timeout=settings.request_timeout_s)
    except FutureTimeout:
        future.cancel()  # still queued: never decoded, so never stored either
        raise ApiError(503, "timeout", f"no answer within {settings.request_timeout_s} s") from None
    reply = answered.reply
    answer = {"answer": reply.text, "exchange_id": answered.exchange_id, "model": state.model_name,
              "latency_ms": answered.latency_ms}
    if options.num_answers > 1:
        answer["answers"] = [{"text": a.text, "score": a.score, "source": a.source} for a in reply.answers]
    return jsonify(answer)


@dataclass(frozen=True)
class ToStore:
    """What a question's exchange is stored with, besides its texts."""

    session_id: str | None
    decoding: dict
    request_id: str


@dataclass(frozen=True)
class Answered:
    """A decoded reply, its stored exchange's id (None where it could not be stored) and its latency."""

    reply: Reply
    exchange_id: str | None
    latency_ms: float


def stored_answers(state, jobs: list[Job], replies: list[Reply]) -> list[Answered]:
    """The replies of one batch, their exchanges (each also its session's newest turn pair) stored in one
    transaction before any is answered; a store failure (a full disk, a lost database) is logged and counted,
    and the answers still go out, unrecorded."""
    finished = time.perf_counter()
    latencies = [round(1000 * (finished - job.submitted), 2) for job in jobs]
    exchanges = [Exchange(job.kept.session_id, job.question, list(job.context or []), reply.text, job.kept.decoding,
                          latency, state.model_name) for job, reply, latency in zip(jobs, replies, latencies)]
    try:
        ids = state.store.record_all(exchanges)
    except StoreError as exc:
        for job in jobs:
            _store_failed(state, "an exchange could not be stored", exc, job.kept.request_id)
        ids = [None] * len(jobs)
    return [Answered(reply, exchange_id, latency) for reply, exchange_id, latency in zip(replies, ids, latencies)]


def _session_context(state, session_id: str) -> list[str]:
    """The session's recent turns from the store (shared by every replica); none when it cannot be read."""
    try:
        return state.store.context(session_id)
    except StoreError as exc:
        _store_failed(state, "a session's turns could not be read", exc, g.request_id)
        return []


def _store_failed(state, what: str, error: StoreError, request_id: str | None) -> None:
    """Log and count a store failure that the request survives."""
    LOG.warning(f"{what}: {error}", extra={"request_id": request_id})
    state.store_errors += 1
    state.metrics.store_errors.inc()


@api.post("/feedback")
def feedback():
    body = _json_body()
    exchange_id = _text(body, "exchange_id", required=True)
    rating = body.get("rating")
    if rating not in (1, -1) or isinstance(rating, bool):
        raise ApiError(400, "bad_rating", "'rating' must be 1 or -1")
    comment = _text(body, "comment")
    if comment is not None and len(comment) > 2000:
        raise ApiError(413, "comment_too_long", "'comment' is longer than 2000 characters")
    try:
        known = _state().store.add_feedback(exchange_id, rating, comment)
    except StoreError as exc:
        _store_failed(_state(), "feedback could not be stored", exc, g.request_id)
        raise ApiError(503, "store_unavailable", "the feedback could not be stored; try again later") from None
    if not known:
        raise ApiError(404, "unknown_exchange", f"no exchange {exchange_id!r}")
    return jsonify({"status": "recorded"})


@api.get("/health")
def health():
    """Liveness: the process answers (no key needed)."""
    return jsonify({"status": "ok"})


@api.get("/ready")
def ready():
    """Readiness: a model is loaded and compiled, and the figures of the batcher and the store."""
    state = _state()
    batcher = state.batcher
    body = {"status": "ready" if state.bot is not None else "no_model", "model": state.model_name,
            "batches": batcher.batches if batcher else 0, "questions": batcher.questions if batcher else 0,
            "store_errors": state.store_errors}
    response = jsonify(body)
    response.status_code = 200 if state.bot is not None else 503
    return response


@api.get("/model")
def model():
    state = _state()
    if state.bot is None:
        raise ApiError(503, "no_model", "no model is loaded")
    bot, metrics = state.bot, state.bot.metrics
    return jsonify({"name": state.model_name, "architecture": bot.config.model.type,
                    "vocabulary_size": len(bot.vocabulary), "parameters": int(bot.model.count_params()),
                    "tokenizer": bot.config.tokenizer.type, "decoding": bot.config.decode.model_dump(),
                    "training": {key: metrics.get(key) for key in ("epochs_completed", "best_epoch", "best_val_loss",
                                                                   "best_val_perplexity", "stopped")}})


@api.get("/openapi.json")
def openapi():
    state = _state()
    serve = state.config.serve
    widths = serve.served_beam_widths(state.bot.config.decode) if state.bot is not None else None
    return jsonify(openapi_document(widths, serve.max_num_answers))
