"""Content negotiation and rendering of HAL documents (DESIGN.md §3).

``negotiate`` picks one of the offered media types from an ``Accept``
header by q-value, with the most specific matching range deciding each
type's quality (RFC 9110 §12.5.1) and ties going to the earliest offered
type, so ``*/*`` yields ``application/hal+json``. ``render`` serialises a
document dict into a Flask response; HTML goes through a pluggable renderer.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import uritemplate
from flask import Response
from werkzeug.datastructures import MIMEAccept
from werkzeug.exceptions import NotAcceptable as _NotAcceptable
from werkzeug.http import parse_accept_header

HAL_JSON = "application/hal+json"
VND_HAL_JSON = "application/vnd.hal+json"
HAL_FORMS = "application/prs.hal-forms+json"
JSON = "application/json"
HTML = "text/html"
PROBLEM_JSON = "application/problem+json"
OFFERED = (HAL_JSON, VND_HAL_JSON, HAL_FORMS, JSON, HTML)


class NotAcceptable(_NotAcceptable):
    """406: none of the offered media types is acceptable."""

    event = "NOT_ACCEPTABLE"


def _quality(offer: str, ranges: list[tuple[str, str, float]], exact: bool = False) -> float:
    """Quality of ``offer`` under the most specific matching media range (0 if none).

    With ``exact`` only a range naming ``offer`` itself counts (no ``*/*`` or ``type/*``)."""
    kind, sub = offer.split("/", 1)
    best_spec, best_q = -1, 0.0
    for rkind, rsub, q in ranges:
        if rkind == kind and rsub == sub:
            spec = 2
        elif exact:
            continue
        elif rkind == kind and rsub == "*":
            spec = 1
        elif rkind == "*" and rsub == "*":
            spec = 0
        else:
            continue
        if spec > best_spec or (spec == best_spec and q > best_q):
            best_spec, best_q = spec, q
    return best_q


def negotiate(
    accept_header: str | None,
    offered: Iterable[str] = OFFERED,
    *,
    exact: Iterable[str] = (),
    default: str | None = None,
) -> str:
    """Choose the response media type for ``accept_header``; raise NotAcceptable if none fits.

    A missing or empty header selects ``default`` (else the first offered type, hal+json). Offers in
    ``exact`` are chosen only when the header names them (wildcards do not select them).
    """
    offered, exact = tuple(offered), frozenset(exact)
    if not accept_header or not accept_header.strip():
        return default or offered[0]
    ranges = []
    for value, q in parse_accept_header(accept_header, MIMEAccept):
        media = value.split(";", 1)[0].strip().lower()
        if media.count("/") == 1:
            ranges.append((*media.split("/"), q))
    best, best_q = None, 0.0
    for offer in offered:
        q = _quality(offer, ranges, offer in exact)
        if q > best_q:
            best, best_q = offer, q
    if best is None:
        raise NotAcceptable(f"Acceptable media types are: {', '.join(offered)}.")
    return best


def _json_default(value: Any) -> Any:
    """Serialise the few non-JSON types that slip through marshmallow dumps."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_HREF = re.compile(r"(&quot;href&quot;: &quot;)(.*?)(&quot;)")


def default_html_renderer(doc: dict, status: int) -> str:
    """A minimal, escaped page: the document's JSON in ``<pre>`` with every href clickable."""

    def anchor(match: re.Match) -> str:
        href = html.unescape(match.group(2))
        target = uritemplate.URITemplate(href).expand({}) if "{" in href else href
        if not re.match(r"(https?://|/)", target):  # never link javascript: and the like
            return match.group(0)
        link = f'<a href="{html.escape(target)}">{match.group(2)}</a>'
        return f"{match.group(1)}{link}{match.group(3)}"

    body = html.escape(json.dumps(doc, indent=2, ensure_ascii=False, default=_json_default))
    title = html.escape(str(doc.get("title") or doc.get("name") or f"HTTP {status}"))
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n"
        f"<pre>{_HREF.sub(anchor, body)}</pre>\n</body></html>\n"
    )


_html_renderer: Callable[[dict, int], str] = default_html_renderer


def set_html_renderer(fn: Callable[[dict, int], str] | None) -> None:
    """Install ``fn(doc, status) -> str`` as the HTML renderer (``None`` restores the default)."""
    global _html_renderer
    _html_renderer = fn or default_html_renderer


def encode_json(doc: dict) -> bytes:
    """The bytes of ``doc`` as every JSON media type sends it (compact, UTF-8, keys in their order).

    orjson writes them (a page of 20 assets: a tenth of the request's CPU with the standard library's
    encoder, docs/datamanager.md "Eighth round"); the standard library's encoder takes what orjson
    refuses (an integer past 64 bits), with the same output otherwise: compact separators, UTF-8, and
    non-string keys written as strings."""
    try:
        return orjson.dumps(doc, default=_json_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(doc).encode("utf-8")


# Datetimes and dataclasses go to _json_default as with the standard library's encoder (isoformat; refused).
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# Built once: json.dumps with options builds an encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)


def render(
    doc: dict, media_type: str, status: int = 200, headers: Any = None, vary: str = "Accept"
) -> Response:
    """Serialise ``doc`` as ``media_type`` into a response that varies on Accept (``vary``: the whole
    ``Vary`` value when the caller knows more, e.g. ``"Accept, Authorization"``; it must name Accept)."""
    if media_type == HTML:
        body = _html_renderer(doc, status).encode("utf-8")
        content_type = "text/html; charset=utf-8"
    else:
        body, content_type = encode_json(doc), media_type
    response = Response(body, status=status, headers=headers, content_type=content_type)
    if (
        headers and "Vary" in response.headers
    ):  # (a missing header costs Headers an exception: ask only when it may be there)
        response.vary.update(v.strip() for v in vary.split(","))
    else:  # the usual case: set the header without parsing it into a HeaderSet first
        response.headers["Vary"] = vary
    return response
