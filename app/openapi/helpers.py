"""Building blocks of a domain's OpenAPI declarations (docs/openapi.md, "Declaring an operation").

Response schemas: ``HalSchema`` is the base of a response schema whose instances also appear
embedded (it declares ``_links`` and lets undeclared members through); ``event``/``type_const``
are seed 000's ``@event``/``@type`` members; ``with_event`` derives the variant of a resource
that one operation answers with.

Bodies that are not a single resource, one helper each:
    ``page(ItemSchema, ...)``         a collection's page: ``_embedded`` items typed as the item's
                                      component, or the one item an ``<id>=x`` lookup answers
    ``stored_file(description, ...)`` a stored file served with ETag, Range and If-Match (200/206)
    ``html_response(description)``    a domain's own HTML page
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

BINARY = {"type": "string", "format": "binary"}
RANGE = {
    "name": "Range",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "A byte range (`bytes=0-99`): 206 with that part, 416 when it lies outside the file.",
}


class HalSchema(Schema):
    """A HAL resource's properties plus ``_links`` (required) and ``_embedded``; other members allowed."""

    class Meta:
        unknown = INCLUDE  # documented as additionalProperties: true (HAL-FORMS adds _templates)

    links = fields.Dict(data_key="_links", required=True, metadata={"description": "HAL links; self always."})


def event(*names):
    """Seed 000's ``@event`` member: one of ``names``."""
    return fields.String(data_key="@event", required=True, validate=validate.OneOf(names))


def type_const(name):
    """Seed 000's ``@type`` member, always ``name``."""
    return fields.String(data_key="@type", required=True, validate=validate.OneOf([name]))


def with_event(schema, name, *names):
    """A subclass of ``schema`` named ``name`` with a required ``@event``, one of ``names``."""
    return type(name, (schema,), {"event": event(*names)})


@dataclass(frozen=True)
class Page:
    """One page of the operation's ``collection=`` (see ``page``); resolved by app/openapi/generate.py."""

    item: Any
    description: str | None = None
    single: Any = None
    members: dict[str, fields.Field] = field(default_factory=dict)


def page(item_schema, description=None, *, single=None, **members):
    """A collection GET's success body: ``responses={200: page(ItemSchema)}`` next to ``collection=``.

    The body is the component ``<Rel>Page`` (``ec:object/versions`` → ``ObjectVersionsPage``):
    ``CollectionPage`` whose ``_embedded[<item_rel>]`` is an
    array of ``<Item>Resource`` (the item schema's response component, made if no other operation made
    it), plus ``members`` (marshmallow fields of the page itself, e.g. ``event(...)``). When the
    collection has an ``id_field``, the body is that page or the single item ``<id>=x`` answers:
    ``single`` (a schema; default ``item_schema``, e.g. a ``with_event`` variant).
    """
    return Page(item_schema, description, single, members)


def stored_file(description, *media_types, json_schema=None, filename=False):
    """``@api_doc`` keywords of a GET serving a stored file through ``app.storage.send``.

    ``@api_doc(**stored_file("The table.", "text/csv"))``: the ``Range`` header; 200 (the
    whole file in each of ``media_types``, default ``*/*``; ``json_schema`` describes an
    application/json one, anything else is binary) and 206 (the byte range), both with ETag and
    Accept-Ranges, Content-Disposition (with the file's name when ``filename``), the sandboxing
    Content-Security-Policy and X-Content-Type-Options (``app.storage.send``); 412 (If-Match
    does not match the ETag) and 416 (the Range lies outside the file).
    """
    media_types = media_types or ("*/*",)
    whole = {m: json_schema if m == "application/json" and json_schema else BINARY for m in media_types}
    part = _file_response(
        "The requested byte range (Content-Range names it).",
        {m: {} if m == "application/json" else BINARY for m in media_types},
        filename,
    )
    part["headers"]["Content-Range"] = {"schema": {"type": "string"}, "description": "`bytes a-b/size`."}
    return {
        "parameters": [RANGE],
        "errors": (412, 416),
        "responses": {200: _file_response(description, whole, filename), 206: part},
    }


def _file_response(description, content, filename):
    headers = {
        "ETag": {"schema": {"type": "string"}, "description": "Entity tag of the stored file."},
        "Accept-Ranges": {"schema": {"type": "string"}, "description": "`bytes`: Range is honoured."},
        "Content-Disposition": {
            "schema": {"type": "string"},
            "description": (
                "`attachment`; `inline` (or absent) only for an image other than SVG, PDF, plain text, CSV"
                " or JSON" + ("; `filename=…` names the file." if filename else ".")
            ),
        },
        "Content-Security-Policy": {
            "schema": {"type": "string"},
            "description": ("`sandbox; default-src 'none'; …`: the file never runs in this origin."),
        },
        "X-Content-Type-Options": {"schema": {"type": "string"}, "description": "`nosniff`."},
    }
    return {
        "description": description,
        "headers": headers,
        "content": {media: {"schema": schema} for media, schema in content.items()},
    }


def html_response(description):
    """A response that is only an HTML page (a domain's own page, not a rendered HAL document)."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}
