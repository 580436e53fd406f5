"""gunicorn settings of ``halyard start`` (``gunicorn -c <checkout>/app/gunicorn_conf.py wsgi:app``).

Logging: gunicorn's error log goes through Halyard's handler and format (app/logs.py), so the master,
the web workers and the app write one stream. gunicorn's own access line stays silent: the app writes a
richer one (request id, account, duration; ``HALYARD_ACCESS_LOG``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # gunicorn loads it as a file

from app.config import SETTINGS, from_environment  # noqa: E402

_settings = {name: default for name, (default, _) in SETTINGS.items()} | from_environment()
_level = _settings["HALYARD_LOG_LEVEL"]

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
