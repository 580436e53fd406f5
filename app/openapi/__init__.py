"""``GET /openapi.json``: the OpenAPI 3.1 description, generated from the routes (docs/openapi.md).

Each view declares its operation with ``@api_doc(...)`` (app/openapi/registry.py);
everything else is documented generically. The entry
point links the description as ``service-desc`` (RFC 8631).
"""

from flask import Blueprint, current_app, jsonify, request

from app.openapi.registry import api_doc

bp = Blueprint("openapi", __name__)
MEDIA_TYPE = "application/vnd.oai.openapi+json"

__all__ = ["api_doc", "bp", "init_app"]


@bp.get("/openapi.json")
@api_doc(
    auth="none",
    tags=["meta"],
    responses={
        200: {
            "description": "This document.",
            "content": {MEDIA_TYPE: {"schema": {"type": "object", "required": ["openapi", "paths"]}}},
        }
    },
)
def spec():
    """The OpenAPI 3.1 description of this server."""
    from app.openapi.generate import build_spec  # deferred: the generator loads on the first request for it

    server = request.url_root.rstrip("/")  # with the path prefix of a proxy (HALYARD_PROXY_FIX)
    cache = current_app.extensions.setdefault("halyard.openapi", {})
    if server not in cache:
        cache[server] = build_spec(current_app, server)
    response = jsonify(cache[server])
    response.mimetype = MEDIA_TYPE
    return response


def init_app(app):
    """Serve the description; the composition root links it from ``/`` as ``service-desc``."""
    app.register_blueprint(bp)
