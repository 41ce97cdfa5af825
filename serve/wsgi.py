"""The application object for WSGI servers that import one, one model per process:

    waitress-serve --host 127.0.0.1 --port 8000 --threads 16 serve.wsgi:application

Read from the environment: ``DEEPQA_RUN`` (the run directory, default ``save/latest``), ``DEEPQA_WEIGHTS``
(``best`` or ``last``), ``DEEPQA_CONFIG`` (the deployment's config file, as ``deepqa serve --config``),
``DEEPQA_SET`` (``SECTION.KEY=VALUE`` overrides separated by ``;``, as ``deepqa serve --set``) and any
``DEEPQA_<SECTION>_<KEY>`` setting of ``[decode]``, ``[eval]`` or ``[serve]`` (``DEEPQA_SERVE_API_KEY``). The server must run several threads in one process: request batching gathers
the questions of concurrent requests in that process.
"""

from __future__ import annotations

import os
import sys

from deepqa.errors import DeepQAError
from deepqa.log import quiet_tensorflow, show_messages

quiet_tensorflow()  # before anything imports TensorFlow
show_messages()

from serve.app import app_for_run  # noqa: E402


def _application():
    weights = os.environ.get("DEEPQA_WEIGHTS", "best")
    if weights not in ("best", "last"):
        print(f"error: DEEPQA_WEIGHTS must be best or last, not {weights!r}", file=sys.stderr)
        raise SystemExit(2)
    overrides = [item.strip() for item in os.environ.get("DEEPQA_SET", "").split(";") if item.strip()]
    try:
        return app_for_run(os.environ.get("DEEPQA_RUN", "save/latest"), weights, overrides,
                           os.environ.get("DEEPQA_CONFIG") or None, os.environ)
    except DeepQAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


application = _application()
show_messages(json_lines=application.extensions["deepqa"].config.serve.log_format == "json")
