"""Conditional requests (RFC 9110 §13): strong ETags, 304 and 412/428.

Each representation of a resource gets its own strong ETag: the entity tag
of the resource's state plus a media-type suffix (``-f`` for HAL-FORMS,
``-h`` for HTML), which callers of app/hal may extend with hex digits naming a
variant (Halyard: the caller's templates). ``If-None-Match`` uses weak comparison and yields 304 on
GET/HEAD; ``If-Match`` uses strong comparison against the state tag with any
representation suffix, so a client may echo whichever ETag it received.
"""

from __future__ import annotations

import hashlib
import json
import re

from flask import Response, request
from werkzeug.exceptions import PreconditionFailed as _PreconditionFailed
from werkzeug.exceptions import PreconditionRequired as _PreconditionRequired

from .negotiation import HAL_FORMS, HTML

__all__ = [
    "etag_for",
    "make_conditional",
    "check_if_match",
    "representation_suffix",
    "PreconditionFailed",
    "PreconditionRequired",
    "SUFFIXES",
]

SUFFIXES = ("", "-f", "-h")
_SAFE = ("GET", "HEAD", "OPTIONS")
# Headers a 304 keeps (RFC 9110 §15.4.5); the body and its metadata go.
_DROP_ON_304 = ("Content-Type", "Content-Length", "Content-Encoding", "Content-Disposition")


class PreconditionFailed(_PreconditionFailed):
    """412: the client's ``If-Match`` is stale."""

    event = "PRECONDITION_FAILED"


class PreconditionRequired(_PreconditionRequired):
    """428: the server requires ``If-Match`` on writes and none was sent."""

    event = "PRECONDITION_REQUIRED"


def etag_for(payload: bytes | str | dict | list) -> str:
    """A strong ETag value (no quotes): 32 hex chars of SHA-256 over canonical JSON or bytes."""
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:32]


def representation_suffix(media_type: str) -> str:
    """The ETag suffix for a media type: ``-f`` HAL-FORMS, ``-h`` HTML, else empty."""
    base = (media_type or "").split(";", 1)[0].strip().lower()
    if base == HAL_FORMS:
        return "-f"
    if base == HTML:
        return "-h"
    return ""


def make_conditional(response: Response, etag: str, *, suffix: str = "") -> Response:
    """Set the strong ``ETag`` and answer 304 when ``If-None-Match`` matches on GET/HEAD."""
    tag = f"{etag}{suffix}"
    response.set_etag(tag)
    req = request._get_current_object()  # one context lookup for method and environ
    if req.method not in ("GET", "HEAD") or not 200 <= response.status_code < 300:
        return response
    if "HTTP_IF_NONE_MATCH" in req.environ and req.if_none_match.contains_weak(tag):
        response.status_code = 304
        response.set_data(b"")
        for header in _DROP_ON_304:
            response.headers.pop(header, None)
    return response


_VARIANT = re.compile(r"-[fh][0-9a-f]{0,16}")


def _matches(tag: str, current: str) -> bool:
    """Strong comparison of a client tag with the state tag, ignoring a representation suffix.

    The suffix is ``-f`` or ``-h``, optionally followed by hex digits naming the caller's variant
    (their HAL-FORMS templates; app/representation.caller_variant).
    """
    return tag == current or (tag.startswith(current) and bool(_VARIANT.fullmatch(tag[len(current) :])))


def check_if_match(current_etag: str | None, *, required: bool = False) -> None:
    """Enforce ``If-Match`` on an unsafe request (a no-op for GET/HEAD/OPTIONS).

    ``current_etag`` is the resource's state tag without suffix, or ``None`` when
    it does not exist. Raises PreconditionFailed when no tag matches (``*``
    matches any existing resource; weak tags never match), or
    PreconditionRequired when the header is missing and ``required``.
    """
    if request.method in _SAFE:
        return
    if "If-Match" not in request.headers:
        if required:
            raise PreconditionRequired("This request must be conditional: send If-Match with the ETag.")
        return
    tags = request.if_match
    if tags.star_tag:
        if current_etag is not None:
            return
    elif current_etag is not None and any(_matches(t, current_etag) for t in tags.as_set()):
        return
    raise PreconditionFailed("The resource has changed: If-Match does not match its current ETag.")
