"""Link objects and RFC 6570 URI templates for HAL documents.

A HAL link is an object with an ``href`` and a few optional attributes
(draft-kelly-json-hal §5). Templated hrefs must be valid RFC 6570 and
expand with the ``uritemplate`` package, so query variables whose names
RFC 6570 forbids (``title~``, ``type!``) are percent-encoded in the
template and decoded again when a caller expands it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import uritemplate

__all__ = ["Link", "query_template", "expand", "encode_varname"]

_VARCHAR = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass
class Link:
    """A HAL link object; ``to_dict`` omits unset attributes."""

    href: str
    templated: bool = False
    title: str | None = None
    type: str | None = None
    name: str | None = None
    profile: str | None = None
    deprecation: str | None = None
    hreflang: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Render the link, leaving out ``None`` fields and ``templated: false``."""
        # The instance dict holds the fields in declaration order; only ``templated`` can be False.
        return {
            name: value for name, value in self.__dict__.items() if value is not None and value is not False
        }


def encode_varname(name: str) -> str:
    """Percent-encode the characters of ``name`` that RFC 6570 forbids in a varname.

    Allowed are ALPHA, DIGIT, ``_`` and ``.`` between other characters; anything
    else (``~``, ``!``, ``-``, a leading or doubled ``.``) becomes ``%XX``.
    """
    out = []
    for i, char in enumerate(name):
        dot_ok = char == "." and 0 < i < len(name) - 1 and name[i - 1] != "." and name[i + 1] != "."
        if char in _VARCHAR or dot_ok:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def query_template(href: str, names: Iterable[str]) -> str:
    """Append a form-style query expansion of ``names`` to ``href``.

    Uses ``{?a,b}``, or the continuation form ``{&a,b}`` when ``href`` already
    has a query string. Forbidden variable names are percent-encoded.
    """
    encoded = [encode_varname(n) for n in names]
    if not encoded:
        return href
    operator = "&" if "?" in href else "?"
    return f"{href}{{{operator}{','.join(encoded)}}}"


def expand(template: str, **values: Any) -> str:
    """Expand an RFC 6570 template with ``uritemplate``.

    Values may be given under a variable's decoded name, so a template holding
    ``title%7E`` expands with ``expand(t, **{"title~": "cat"})``. ``None``
    values are left out, as RFC 6570 treats undefined variables.
    """
    tpl = uritemplate.URITemplate(template)
    mapping: dict[str, Any] = {}
    for var in tpl.variable_names:
        decoded = unquote(var)
        if decoded in values:
            mapping[var] = values[decoded]
        elif var in values:
            mapping[var] = values[var]
    return tpl.expand(mapping)
