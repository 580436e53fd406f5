"""gunicorn settings of ``halyard start`` (``gunicorn -c <checkout>/app/gunicorn_conf.py wsgi:app``).

Metrics: prometheus_client's multiprocess mode needs ``PROMETHEUS_MULTIPROC_DIR`` before any worker
imports it; ``halyard start`` sets it (``<instance>/metrics``), otherwise a fresh temporary folder is made
here. A worker that exits has its live gauges dropped (``child_exit``); its counters stay counted.

Logging: gunicorn's error log goes through Halyard's handler and format (app/logs.py), so the master,
the web workers and the app write one stream. gunicorn's own access line stays silent: the app writes a
richer one (request id, account, duration; ``HALYARD_ACCESS_LOG``).
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # gunicorn loads it as a file

from app.config import SETTINGS, from_environment  # noqa: E402

_settings = {name: default for name, (default, _) in SETTINGS.items()} | from_environment()
_level = _settings["HALYARD_LOG_LEVEL"]

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="halyard-metrics-")


def child_exit(server, worker):
    # deferred: prometheus_client must load after PROMETHEUS_MULTIPROC_DIR is set
    from app.metrics import process_dead

    process_dead(worker.pid)


logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _level, "handlers": ["halyard"]},
    "handlers": {"halyard": {"()": "app.logs.handler", "fmt": _settings["HALYARD_LOG_FORMAT"]}},
    "formatters": {},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
    },
}
