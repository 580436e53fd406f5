"""Who may read ``GET /metrics``: the one door, ``metrics_reader`` (docs/operations.md "Metrics").

A scraper should not need an ADMIN's rights: it may present the configured bearer secret
``HALYARD_METRICS_TOKEN`` (compared in constant time; not an API token, it opens /metrics only).
Otherwise the request is authenticated as any other and must be an ADMIN's.
"""

import functools
import hmac

from flask import current_app, request

from app.auth import admin_required


def metrics_token_presented():
    """True when the request carries ``Authorization: Bearer <HALYARD_METRICS_TOKEN>`` (and one is set)."""
    secret = current_app.config["HALYARD_METRICS_TOKEN"]
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not secret or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), secret.encode())


def metrics_reader(view):
    """Decorate the /metrics view: the metrics bearer secret, else an ADMIN's credentials."""
    as_admin = admin_required(view)

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if metrics_token_presented():
            return view(*args, **kwargs)
        return as_admin(*args, **kwargs)

    return guarded
