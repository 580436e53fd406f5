"""HAL-FORMS templates (https://rwcbook.github.io/hal-forms/).

``Template`` and ``Property`` render the ``_templates`` section of a
resource; ``properties_from_schema`` derives the property list from a
marshmallow schema so a form and the body validation never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, missing, validate

__all__ = ["Property", "Template", "properties_from_schema"]


@dataclass
class Property:
    """One HAL-FORMS property; ``to_dict`` omits unset attributes."""

    name: str
    required: bool = False
    type: str = "text"
    prompt: str | None = None
    regex: str | None = None
    min: Any = None
    max: Any = None
    minLength: int | None = None
    maxLength: int | None = None
    readOnly: bool = False
    value: Any = None
    options: list | None = None
    multiple: bool = False
    templated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Render the property; ``options`` becomes ``{"inline": [...]}``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or value is False:
                continue
            out[f.name] = {"inline": list(value)} if f.name == "options" else value
        return out


@dataclass
class Template:
    """A HAL-FORMS template: what a client may send, and how."""

    method: str = "POST"
    properties: list[Property] = field(default_factory=list)
    title: str | None = None
    contentType: str = "application/json"
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Render with HAL-FORMS key names, leaving out unset title and target."""
        out: dict[str, Any] = {"method": self.method.upper(), "contentType": self.contentType}
        if self.title is not None:
            out["title"] = self.title
        if self.target is not None:
            out["target"] = self.target
        out["properties"] = [p.to_dict() for p in self.properties]
        return out


# Most specific first: Email and Url subclass String, the datetimes subclass DateTime.
_TYPES: list[tuple[type, str]] = [
    (fields.Email, "email"),
    (fields.Url, "url"),
    (fields.String, "text"),
    (fields.UUID, "text"),
    (fields.Number, "number"),
    (fields.Boolean, "checkbox"),
    (fields.DateTime, "datetime-local"),
    (fields.Date, "date"),
    (fields.Time, "time"),
    (fields.Enum, "text"),
    (fields.Dict, "textarea"),
    (fields.Nested, "textarea"),
    (fields.Raw, "textarea"),
]


def _input_type(fld: fields.Field) -> str:
    """Map a marshmallow field class to an HTML input type."""
    for cls, name in _TYPES:
        if isinstance(fld, cls):
            return name
    return "text"


def _apply_validators(prop: Property, fld: fields.Field) -> None:
    """Copy Length, Range, OneOf and Regexp constraints onto ``prop``."""
    for v in getattr(fld, "validators", []):
        if isinstance(v, validate.Length):
            prop.minLength = v.equal if v.equal is not None else v.min
            prop.maxLength = v.equal if v.equal is not None else v.max
        elif isinstance(v, validate.Range):
            prop.min, prop.max = v.min, v.max
        elif isinstance(v, validate.OneOf):
            prop.options = list(v.choices)
        elif isinstance(v, validate.Regexp):
            prop.regex = v.regex.pattern


def _property(name: str, fld: fields.Field, required: bool) -> Property:
    """Build the Property for one load field."""
    inner = fld.inner if isinstance(fld, fields.List) else fld
    prop = Property(name=name, required=required, type=_input_type(inner))
    prop.multiple = isinstance(fld, fields.List)
    prop.prompt = fld.metadata.get("prompt") or fld.metadata.get("title")
    if isinstance(inner, fields.Enum):
        prop.options = [m.value if inner.by_value else m.name for m in inner.enum]
    _apply_validators(prop, fld)
    if inner is not fld:
        _apply_validators(prop, inner)
    default = fld.load_default
    if default is not missing and not callable(default) and isinstance(default, (str, int, float, bool)):
        prop.value = default
    return prop


def properties_from_schema(
    schema: Schema | type[Schema], *, exclude: Iterable[str] = (), partial: bool = False
) -> list[Property]:
    """Derive HAL-FORMS properties from a schema's load fields.

    Dump-only fields are skipped; ``data_key`` is used as the name; ``exclude``
    matches attribute names or data keys; ``partial`` makes nothing required.
    """
    if isinstance(schema, type):
        schema = schema()
    skip = set(exclude)
    props = []
    for attr, fld in schema.load_fields.items():
        name = fld.data_key or attr
        if attr in skip or name in skip:
            continue
        props.append(_property(name, fld, fld.required and not partial))
    return props
