"""``create_app``: the Flask application that serves one trained run.

The chatbot is loaded once per process; one batcher thread decodes the questions of all request
threads; exchanges, feedback and the sessions' turns live in the store (SQLite, or PostgreSQL shared by
several replicas); rate limits in Flask-Limiter's storage (in memory, or Redis shared by several replicas);
``/metrics`` in Prometheus format.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from flask import Flask, Response, g, request, send_from_directory
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from deepqa.inference.chatbot import Chatbot
from deepqa.log import get_logger
from deepqa.config import Config
from serve.api import api, error_response, stored_answers
from serve.batcher import RequestBatcher
from serve.limits import install_rate_limits
from serve.metrics import CONTENT_TYPE, ServingMetrics
from serve.store import ConversationStore

STATIC = Path(__file__).resolve().parent / "static"
PAGE_FILES = {"chat.js", "chat.css"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a proxy's X-Request-Id is kept when it looks like one
SECURITY_HEADERS = {
    # The page loads its script and style from this server only and talks only to it.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
LOG = get_logger(__name__)


@dataclass
class ServingState:
    """What the request handlers share."""

    config: Config
    bot: Chatbot | None
    model_name: str
    batcher: RequestBatcher | None
    store: ConversationStore
    api_key: str
    metrics: ServingMetrics
    store_errors: int = 0

    def close(self) -> None:
        """Stop the batcher after the questions it holds, and close the store (after a drained shutdown)."""
        if self.batcher is not None:
            self.batcher.close()
        self.store.close()


def create_app(config: Config, bot: Chatbot | None = None) -> Flask:
    """The application for ``bot`` (None: every question is answered 503), configured by ``config.serve``."""
    settings = config.serve
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False

    model_name = bot.run_dir.name if bot else "none"
    metrics = ServingMetrics({"name": model_name, "architecture": bot.config.model.type if bot else "none",
                              "mode": bot.check_options(bot.config.decode).mode if bot else "none"})

    @metrics.timed_batches
    def decode(jobs):
        return bot.reply_batch([(job.question, job.context) for job in jobs], jobs[0].options)

    def answer(jobs):  # decoded, then stored (in one transaction), then answered
        return stored_answers(app.extensions["deepqa"], jobs, decode(jobs))

    batcher = (RequestBatcher(answer, settings.max_batch, settings.max_wait_ms,
                              settings.max_queue, bot.decoder.batch_size_for)
               if bot is not None else None)
    compiled_when_ready = bot.decoder.compilations if bot is not None else 0
    metrics.watch(lambda: batcher.jobs.qsize() if batcher else 0,
                  lambda: (bot.decoder.compilations - compiled_when_ready) if bot is not None else 0)
    app.extensions["deepqa"] = ServingState(
        config=config, bot=bot, model_name=model_name, batcher=batcher,
        store=ConversationStore(settings.database, settings.keep_days, settings.session_turns,
                                settings.session_max_age_s),
        api_key=settings.resolved_api_key(), metrics=metrics)
    app.register_blueprint(api)
    if settings.trusted_proxies:  # the client address from X-Forwarded-For, as far as the proxies are trusted
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)

    @app.before_request
    def _start_clock():
        g.started = time.perf_counter()
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    install_rate_limits(app, settings, app.extensions["deepqa"].api_key)  # after the clock, so that a refused request is timed and has its id

    @app.get("/metrics")
    def prometheus_metrics():
        return Response(metrics.render(), mimetype=CONTENT_TYPE)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        code = {413: "body_too_large", 404: "not_found", 405: "method_not_allowed",
                429: "rate_limited"}.get(error.code, "http_error")
        return error_response(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        LOG.exception("unexpected error")
        return error_response(500, "internal", "the server could not answer; the error has been logged")

    @app.get("/")
    def chat_page():
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<name>")
    def page_file(name: str):
        if name not in PAGE_FILES:
            return error_response(404, "not_found", f"no file {name!r}")
        return send_from_directory(STATIC, name)

    @app.after_request
    def _security_headers_and_metrics(response):
        response.headers.update(SECURITY_HEADERS)
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        if "started" in g:
            seconds = time.perf_counter() - g.started
            metrics.latency.labels(endpoint).observe(seconds)
            response.headers["X-Request-Id"] = g.request_id
            if settings.log_format == "json":
                LOG.info("request", extra={"request_id": g.request_id, "method": request.method, "path": request.path,
                                           "status": response.status_code, "ms": round(1000 * seconds, 2)})
        return response

    return app


def app_for_run(run_dir: str | Path, weights: str = "best", overrides: Sequence[str] = (),
                deployment: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Flask:
    """The application for a trained run, loaded once with the deployment's settings (config file, environment,
    ``overrides``) and its generation compiled for every batch size before the first request."""
    bot = Chatbot.load(run_dir, weights, deployment, overrides, environ)
    serve = bot.config.serve
    bot.warm_up(serve.max_batch, serve.served_beam_widths(bot.config.decode), serve.max_num_answers)
    return create_app(bot.config, bot)
