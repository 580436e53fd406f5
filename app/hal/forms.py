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

    @property
    def edits_in_place(self) -> bool:
        """A PUT or PATCH of the resource the template sits on (no other ``target``)."""
        return self.target is None and self.method.upper() in ("PUT", "PATCH")

    def to_dict(self, current: dict[str, Any] | None = None) -> dict[str, Any]:
        """Render with HAL-FORMS key names, leaving out unset title and target.

        ``current`` (the resource's properties) prefills an in-place edit: a property without a
        ``value`` of its own takes the resource's current one, so a form starts from what is there and a
        client sending it back unchanged changes nothing. Only plain values (text, numbers, booleans and
        lists of them) are prefilled: nested objects are shown in another shape than they are written.
        """
        out: dict[str, Any] = {"method": self.method.upper(), "contentType": self.contentType}
        if self.title is not None:
            out["title"] = self.title
        if self.target is not None:
            out["target"] = self.target
        prefill = current if current and self.edits_in_place else {}
        out["properties"] = [_with_current(p.to_dict(), prefill) for p in self.properties]
        return out


_PLAIN = (str, int, float, bool)


def _with_current(prop: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """``prop`` with ``value`` set from ``current`` when it has none and the current value is plain."""
    if "value" in prop or prop.get("type") == "password" or prop["name"] not in current:
        return prop
    value = current[prop["name"]]
    plain = isinstance(value, _PLAIN) or (
        isinstance(value, list) and all(isinstance(v, _PLAIN) for v in value)
    )
    if plain:
        prop["value"] = value
    return prop


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
    if prop.type == "text" and (fld.metadata.get("secret") or "password" in name.lower()):
        prop.type = "password"  # never echoed, never prefilled
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
