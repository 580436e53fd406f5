"""HAL-FORMS templates (https://rwcbook.github.io/hal-forms/).

``Template`` and ``Property`` render the ``_templates`` section of a
resource; ``properties_from_schema`` derives the property list from a
marshmallow schema so a form and the body validation never disagree.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, missing, validate

__all__ = ["OptionsLink", "Property", "Template", "properties_from_schema"]


@dataclass(frozen=True)
class OptionsLink:
    """HAL-FORMS ``options.link``: the values of a property are the items of a collection.

    ``href`` is the collection (a HAL list, its items under ``_embedded``); a client shows each item's
    ``promptField`` and sends its ``valueField`` (docs/browsable.md, "HAL-FORMS templates").
    """

    href: str
    promptField: str = "title"
    valueField: str = "id"
    type: str = "application/hal+json"

    def to_dict(self) -> dict[str, Any]:
        return {
            "link": {"href": self.href, "type": self.type},
            "promptField": self.promptField,
            "valueField": self.valueField,
        }


@dataclass
class Property:
    """One HAL-FORMS property; ``to_dict`` omits unset attributes.

    ``options`` is a list of values (``options.inline``) or an ``OptionsLink`` (``options.link``);
    ``multiple`` (a list of values is sent) is rendered as ``options.multiple``, where the HAL-FORMS
    spec and its clients read it.
    """

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
    options: list | OptionsLink | None = None
    multiple: bool = False
    templated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Render the property; ``options`` becomes ``{"inline": [...]}`` or ``{"link": {...}, ...}``
        and ``multiple`` becomes ``options.multiple``."""
        out: dict[str, Any] = {}
        for name in _RENDERED:
            value = getattr(self, name)
            if value is not None and value is not False:
                out[name] = value
        options = self.options
        if options is not None or self.multiple:
            rendered = (
                options.to_dict()
                if isinstance(options, OptionsLink)
                else {"inline": list(options)}
                if options is not None
                else {}
            )
            if self.multiple:
                rendered["multiple"] = True
            out["options"] = rendered
        return out


# Property's attributes rendered as they are (``options`` and ``multiple`` become ``options``).
_RENDERED = tuple(f.name for f in dataclasses.fields(Property) if f.name not in ("options", "multiple"))


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

        ``current`` (the resource's properties) prefills an in-place edit: a property takes the
        resource's current value (over the schema's default), so a form starts from what is there and a
        client sending it back unchanged changes nothing. Only plain values (text, numbers, booleans and
        lists of them) are taken: nested objects may be shown in another shape than they are written, so
        a template gives those explicitly where they are (``properties_from_schema(values=...)``).
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
    """``prop`` with ``value`` set from ``current`` when the current value is plain: what the resource
    holds now, not the schema's default for a new one (a value given for a nested field stays)."""
    if prop.get("type") == "password" or prop["name"] not in current:
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


def _choices(fld: fields.Field) -> bool:
    return any(isinstance(v, validate.OneOf) for v in getattr(fld, "validators", []))


def _property(name: str, fld: fields.Field, required: bool) -> Property:
    """Build the Property for one load field."""
    inner = fld.inner if isinstance(fld, fields.List) else fld
    prop = Property(name=name, required=required, type=_input_type(inner))
    if prop.type == "text" and (fld.metadata.get("secret") or "password" in name.lower()):
        prop.type = "password"  # never echoed, never prefilled
    if isinstance(fld, fields.List) and prop.type != "textarea":
        prop.multiple = True  # a list of plain values (a JSON array of nested objects is one textarea)
        if not isinstance(inner, fields.Enum) and not _choices(inner) and prop.type == "text":
            prop.type = "textarea"  # free values, one per line (HAL-FORMS shows options only for choices)
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
    schema: Schema | type[Schema],
    *,
    exclude: Iterable[str] = (),
    partial: bool = False,
    options: dict[str, OptionsLink] | None = None,
    values: dict[str, Any] | None = None,
) -> list[Property]:
    """Derive HAL-FORMS properties from a schema's load fields.

    Dump-only fields are skipped; ``data_key`` is used as the name; ``exclude``
    matches attribute names or data keys; ``partial`` makes nothing required.
    ``options`` ({name: OptionsLink}) says which collection a field that takes another resource's
    id picks from (the field keeps its type: an id is sent as a number); ``values`` ({name: value})
    prefills fields (a parent's id on its own create template).

    A schema's properties are derived once (a list of items each builds its templates from the same
    schemas) and shared: a property ``options`` or ``values`` changes is a copy; change no other in
    place (``dataclasses.replace`` it).
    """
    links, prefill = options or {}, values or {}
    props = list(_derived(schema, frozenset(exclude), partial))
    if links or prefill:
        for i, prop in enumerate(props):
            changes = {}
            if prop.name in links:
                changes["options"] = links[prop.name]
            if prop.name in prefill:
                changes["value"] = prefill[prop.name]
            if changes:
                props[i] = dataclasses.replace(prop, **changes)
    unknown = (set(links) | set(prefill)) - {p.name for p in props}
    if unknown:
        raise ValueError(f"no such fields in {_schema_name(schema)}: {sorted(unknown)}")
    return props


def _schema_name(schema: Schema | type[Schema]) -> str:
    return schema.__name__ if isinstance(schema, type) else type(schema).__name__


@functools.lru_cache(maxsize=512)
def _derived(schema: Schema | type[Schema], skip: frozenset[str], partial: bool) -> tuple[Property, ...]:
    """The properties of ``schema`` (a class or an instance: schemas are built once and never
    changed, so both are keys as they are)."""
    if isinstance(schema, type):
        schema = schema()
    props = []
    for attr, fld in schema.load_fields.items():
        name = fld.data_key or attr
        if attr in skip or name in skip:
            continue
        props.append(_property(name, fld, fld.required and not partial))
    return tuple(props)
