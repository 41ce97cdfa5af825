"""Rate limits through Flask-Limiter, per client address, in a storage that several replicas can share
(``memory://`` for one process, ``redis://host:port`` for several): the requests of a client to the API, and,
stricter, its failed API-key attempts."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import ApplicationLimit, Limiter

from deepqa.config import ServeConfig
from deepqa.errors import ConfigError
from serve.api import OPEN_ENDPOINTS


def client_address() -> str:
    """The client's address (after ``ProxyFix``, the one the trusted proxies forwarded)."""
    return request.remote_addr or "unknown"


def _not_api() -> bool:
    """Outside the limits: the page, /metrics, and liveness (an orchestrator's probes never count)."""
    return request.blueprint != "api" or request.endpoint in OPEN_ENDPOINTS


def install_rate_limits(app: Flask, settings: ServeConfig, api_key: str) -> Limiter | None:
    """Limit ``app`` by ``[serve] rate_limit_per_minute`` and, when ``api_key`` is set,
    ``failed_key_limit_per_minute`` (0: none), its
    counts kept in ``[serve] rate_limit_storage``; a storage that cannot be used is a :class:`ConfigError`.
    When the storage stops answering later, requests pass unlimited (logged) rather than fail. Without any
    limit, nothing is installed (None): the limiter's bookkeeping would cost every request for nothing."""
    limits = []
    if settings.rate_limit_per_minute:
        per_minute = settings.rate_limit_per_minute
        limits.append(ApplicationLimit(f"{per_minute}/minute", scope="requests", exempt_when=_not_api,
                                       error_message=f"more than {per_minute} requests in a minute from this client"))
    if settings.failed_key_limit_per_minute and api_key:
        failed = settings.failed_key_limit_per_minute
        limits.append(ApplicationLimit(f"{failed}/minute", scope="failed-keys", exempt_when=_not_api,
                                       deduct_when=lambda response: response.status_code == 401,
                                       error_message=f"more than {failed} failed API keys in a minute from this "
                                                     f"client"))
    if not limits:
        return None
    try:
        limiter = Limiter(client_address, application_limits=limits, storage_uri=settings.rate_limit_storage,
                          strategy="moving-window", swallow_errors=True, headers_enabled=True,
                          key_prefix="deepqa")
        limiter.init_app(app)
        if not limiter.storage.check():
            raise ConfigError(f"[serve] rate_limit_storage {settings.rate_limit_storage!r} does not answer")
    except ConfigError:
        raise
    except Exception as exc:  # the limits library's own errors: unknown scheme, missing client package
        raise ConfigError(f"[serve] rate_limit_storage {settings.rate_limit_storage!r} cannot be used: {exc}") from None
    return limiter
