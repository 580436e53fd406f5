"""How a view declares its OpenAPI operation: the ``@api_doc`` decorator, on the view itself.

The decorator stores its keyword metadata on the view function (``_openapi``, per HTTP method;
placed under the route and auth decorators it survives their ``functools.wraps``), so the
declaration sits where the route is and the generator (app/openapi/generate.py) reads it from
``app.view_functions`` beside the URL map. Anything not declared falls back to a generic operation.

Metadata keys (all optional):
    summary, description, tags   text; tags default to the blueprint's name
    auth          "required" (default) | "admin" | "optional" | "none"
    request       marshmallow Schema (class or instance) of the request body; ``None`` given
                  explicitly: the operation takes no body (no requestBody, no 413/415)
    body_required False: the body may be left out (the server then uses the schema's defaults)
    content_type  the body's media type: "application/json" (default) or "multipart/form-data"
    responses     {status: Schema | None | "description" | page(...) | dict}: the documented
                  success statuses; a Schema describes the HAL resource's own properties;
                  ``helpers.page(ItemSchema)`` a typed page of ``collection``; a dict is a
                  complete OpenAPI response object (for what is not HAL: ``helpers.stored_file``,
                  ``helpers.html_response``)
    parameters    extra OpenAPI parameter objects (e.g. a required query parameter, a header)
    collection    an app.hal ``Collection``: documents its paging/sort/filter query (and, without
                  ``responses``, a generic page body)
    errors        extra error statuses beyond the generic ones (e.g. (409, 503))
"""

from __future__ import annotations

from typing import Any

ATTRIBUTE = "_openapi"
KEYS = {
    "summary",
    "description",
    "tags",
    "auth",
    "request",
    "body_required",
    "content_type",
    "responses",
    "collection",
    "errors",
    "parameters",
}
AUTH = ("required", "admin", "optional", "none")


def _check(meta: dict[str, Any]) -> dict[str, Any]:
    unknown = set(meta) - KEYS
    if unknown:
        raise TypeError(f"unknown OpenAPI metadata: {sorted(unknown)}")
    if meta.get("auth", "required") not in AUTH:
        raise ValueError(f"auth must be one of {AUTH}")
    return meta


def api_doc(method: str | None = None, **meta: Any):
    """Decorate a view with its OpenAPI metadata; ``method`` limits it to one HTTP method of the view."""
    _check(meta)

    def decorate(view):
        per_method = dict(getattr(view, ATTRIBUTE, {}))
        per_method[method.upper() if method else None] = meta
        setattr(view, ATTRIBUTE, per_method)
        return view

    return decorate


def metadata(view: Any, method: str) -> dict[str, Any]:
    """The merged metadata of one operation: the view's declaration for any method < for this method."""
    per_method = getattr(view, ATTRIBUTE, {}) if view is not None else {}
    return {**(per_method.get(None) or {}), **(per_method.get(method) or {})}
