"""Building blocks for a domain's response schemas (docs/openapi.md, "Declaring an operation").

``HalSchema`` is the base of a response schema whose instances also appear embedded (it
declares ``_links`` and lets undeclared members through); ``event``/``type_const`` are seed
000's ``@event``/``@type`` members; ``with_event`` derives the variant of a resource that one
operation answers with; ``page_schema`` describes one page of a Collection with its items
under ``_embedded``; ``file_response`` documents a stored file served with ETag and Range.
"""

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


def page_schema(name, item_rel, item_schema, **members):
    """One page of a collection: ``count``, ``total``, ``_embedded[item_rel]`` (an array of
    ``item_schema``) and ``members`` (extra marshmallow fields of the page, e.g. ``@event``)."""
    embedded = type(
        name + "EmbeddedSchema",
        (Schema,),
        {
            "Meta": type("Meta", (), {"unknown": INCLUDE}),
            "items": fields.List(fields.Nested(item_schema), data_key=item_rel, required=True),
        },
    )
    return type(
        name + "Schema",
        (HalSchema,),
        {
            "count": fields.Integer(required=True, validate=validate.Range(min=0)),
            "total": fields.Integer(required=True, validate=validate.Range(min=0)),
            "embedded": fields.Nested(embedded, data_key="_embedded", required=True),
            **members,
        },
    )


def file_response(description, content, *, attachment=False):
    """A stored file (200): ``content`` maps each media type to its JSON Schema; ETag, Accept-Ranges."""
    headers = {
        "ETag": {"schema": {"type": "string"}, "description": "Entity tag of the stored file."},
        "Accept-Ranges": {"schema": {"type": "string"}, "description": "`bytes`: Range is honoured."},
    }
    if attachment:
        headers["Content-Disposition"] = {
            "schema": {"type": "string"},
            "description": "`attachment; filename=…`.",
        }
    return {
        "description": description,
        "headers": headers,
        "content": {media: {"schema": schema} for media, schema in content.items()},
    }


def file_responses(description, *media_types, json_schema=None, attachment=False):
    """``responses`` of a stored file: 200 (the whole file; ``json_schema`` describes an
    application/json one, anything else is binary) and 206 (the byte range asked for)."""
    whole = {m: json_schema if m == "application/json" and json_schema else BINARY for m in media_types}
    part = file_response(
        "The requested byte range (Content-Range names it).",
        {m: {} if m == "application/json" else BINARY for m in media_types},
    )
    part["headers"]["Content-Range"] = {"schema": {"type": "string"}, "description": "`bytes a-b/size`."}
    return {200: file_response(description, whole, attachment=attachment), 206: part}
