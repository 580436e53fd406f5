"""Seed-native JSON beside HAL (DESIGN.md §3, docs/seed-native.md).

Seeds 000–003 were not HAL APIs and their clients must work unchanged. On a path of one of those
seeds, ``application/json``, ``*/*`` or no ``Accept`` gets the body the seed document shows;
``application/hal+json``, ``application/vnd.hal+json`` and ``application/prs.hal-forms+json`` get the
HAL graph when the request names them with a q at least that of JSON; ``text/html`` the browsable page.
Every other path (seed 004, ``/``, ``/jobs/``, ``/rels/``, ...) keeps HAL for every ``Accept``.

The one place a view touches is ``Document.with_native(body)``: each domain's ``represent()`` attaches
the seed's body of a resource next to its HAL document (without it, the body is the document's
properties). A collection's body is its envelope (``ENVELOPES``, else its seed's default) around its
items' native bodies, built here from the HAL collection document: the views stay as they are.
``app.representation.respond`` asks ``seed_of()`` and ``native_body()``; nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.hal import HAL_FORMS, HAL_JSON, JSON, VND_HAL_JSON

# The paths each seed document defines: a prefix each, or one exact path where it ends in "$" (the
# health check, not its undocumented /probe); undocumented paths stay HAL-only.
SEED_PATHS = (
    ("000", ("/accounts/auth_requests/", "/accounts/auth_tokens/", "/catalogue/", "/downloader/")),
    ("001", ("/api/v1/objects/",)),
    ("002", ("/api/v1/projects/", "/api/v1/datasources")),
    (
        "003",
        (
            "/api/v1/user/",
            "/api/v1/group/",
            "/api/v1/schedule/",
            "/api/v1/failed-tasks/",
            "/api/metrics/$",
            "/api/health/$",
        ),
    ),
)

# respond()'s negotiation on a seed path: JSON without Accept or for */*; HAL only when named.
NEGOTIATION = {"exact": (HAL_JSON, VND_HAL_JSON, HAL_FORMS), "default": JSON}


@dataclass(frozen=True)
class Envelope:
    """How a seed writes a list: constant members, then paging members, then the items.

    ``key`` names the member holding the items; ``None`` makes the body a bare array. ``paging``
    adds ``count`` (the total of all pages), ``next`` and ``previous`` (absolute URLs, or null on
    the last/first page) before the items, as Django REST framework writes them (seeds 002, 003).
    """

    key: str | None = "results"
    paging: bool = False
    extra: tuple[tuple[str, Any], ...] = ()


# Per seed, how its lists look unless ENVELOPES names the endpoint.
DEFAULT_ENVELOPES = {
    "000": Envelope("items"),
    "001": Envelope(None),
    "002": Envelope("results", paging=True),
    "003": Envelope("results", paging=True),
}

# Per endpoint, where the document shows a list in another shape than its seed's default.
ENVELOPES = {
    "catalogue.index": Envelope(
        "items", extra=(("@event", "CATALOGUEITEMS_BULK_READ"), ("@type", "catalogue_items_list"))
    ),
    "downloader.index": Envelope(
        "requests", extra=(("@event", "DOWNLOADREQUESTS_BULK_READ"), ("@type", "download_requests_list"))
    ),
    "datasources.scripts": Envelope(None),
}


# Every prefix (and exact path) of SEED_PATHS: most requests match none, which one startswith tells.
_ANY_SEED_PATH = tuple(prefix.removesuffix("$") for _, prefixes in SEED_PATHS for prefix in prefixes)


def seed_of(path: str) -> str | None:
    """The seed (``"000"``–``"003"``) whose document defines ``path``, or None."""
    if not path.startswith(_ANY_SEED_PATH):
        return None
    for seed, prefixes in SEED_PATHS:
        for prefix in prefixes:
            if path == prefix[:-1] if prefix.endswith("$") else path.startswith(prefix):
                return seed
    return None


def envelope_for(seed: str, endpoint: str | None) -> Envelope:
    return ENVELOPES.get(endpoint) or DEFAULT_ENVELOPES[seed]


def _items_rel(doc) -> str | None:
    """The rel of a collection document's items (the HAL collection of app/hal: count, total (not on
    a cursor page, which counts nothing), items)."""
    if "count" not in doc.properties:
        return None
    lists = [rel for rel in doc.embedded_rels if isinstance(doc.embedded(rel), list)]
    return lists[0] if len(lists) == 1 else None


def native_body(doc, seed: str, endpoint: str | None = None) -> Any:
    """The seed-native body of ``doc``: its attached one, its list envelope, or its properties."""
    if doc.native is not None:
        return doc.native() if callable(doc.native) else doc.native
    rel = _items_rel(doc)
    if rel is None:
        return dict(doc.properties)
    items = [native_body(child, seed) for child in doc.embedded(rel)]
    envelope = envelope_for(seed, endpoint)
    if envelope.key is None:
        return items
    body = dict(envelope.extra)
    if envelope.paging:
        body.update(count=doc.properties.get("total"), next=doc.href("next"), previous=doc.href("prev"))
    body[envelope.key] = items
    return body


def next_link_header(doc) -> str | None:
    """``Link: <next>; rel="next"`` for a list page that is not the last, where the native envelope has
    no room for it (a bare array, seed 000's envelopes)."""
    href = doc.href("next") if _items_rel(doc) else None
    return f'<{href}>; rel="next"' if href else None
