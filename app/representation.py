"""Glue between views and app/hal: absolute URLs, request bodies in, HAL documents out.

A view builds a ``Document`` (through its domain's ``represent()``) and returns
``respond(doc)``; this module negotiates the media type, adds the CURIE, renders
``_templates`` only for HAL-FORMS and HTML, and sets a strong ETag (304 on a match).
Writes call ``check_preconditions(represent(thing))`` before changing anything.
"""

from urllib.parse import urlsplit

from flask import url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from app.ctx import current_app, g, request, request_object
from app.errors import BodyDidNotValidate, UnsupportedMediaType
from app.extensions import curies, db
from app.hal import (
    HAL_FORMS,
    HTML,
    JSON,
    CursorCodec,
    Document,
    NotAcceptable,
    check_if_match,
    encode_json,
    etag_for,
    make_conditional,
    negotiate,
    render,
    representation_suffix,
)
from app.inputs import parse_json
from app.native import NEGOTIATION, envelope_for, native_body, next_link_header, seed_of


def url(endpoint, **values):
    """The absolute URL of an endpoint (every href Halyard emits is absolute)."""
    return url_for(endpoint, _external=True, **values)


def base_url():
    """The request's scheme, host and path prefix (``X-Forwarded-Prefix`` behind a proxy), as ``url()``
    writes them before every app path."""
    req = request_object()  # one context lookup for the three attributes
    return f"{req.scheme}://{req.host}{req.script_root}"


def paginate(
    collection,
    stmt,
    self_url,
    items,
    *,
    single,
    links=None,
    templates=None,
    properties=None,
    options_url=None,
    **options,
):
    """The one paging door of every list: a page of ``collection`` over ``stmt`` as a HAL response.

    Applies the configured ``HALYARD_PAGE_DEFAULT_SIZE``/``HALYARD_PAGE_MAX_SIZE`` and owns the
    single-item branch: ``<idprop>=<x>`` answers ``single(item)``, the item's own document. Otherwise
    ``items(page.items)`` (the embedded documents, built from the whole page at once) go into the
    collection document at ``self_url``, with ``links`` ({rel: href or Link}), ``templates``
    ({name: Template}) and ``properties`` (placed before ``count`` and ``total``). ``options`` go
    to ``Collection.page()`` (``scalars``, ``totals``, ``key``, ``reuse``, and ``session``: a Core
    connection for a Core select, instead of the ORM session).
    """
    config = current_app.config
    page = collection.page(
        options.pop("session", None) or db.session,
        stmt,
        request.args,
        default_size=full_list_size() or config["HALYARD_PAGE_DEFAULT_SIZE"],
        max_size=config["HALYARD_PAGE_MAX_SIZE"],
        cursors=None if _numbered_native_paging() else cursor_codec(),
        **options,
    )
    if page.single is not None:
        return respond(single(page.single))
    doc = page.document(self_url, items(page.items), options_url=options_url)
    if properties:
        doc.properties = {**properties, **doc.properties}
    for rel, href in (links or {}).items():
        doc.link(rel, href)
    for name, template in (templates or {}).items():
        doc.template(name, template)
    return respond(doc)


def cursor_codec():
    """The app's signer of paging cursors (keyed by SECRET_KEY), made once per app."""
    codec = current_app.extensions.get("halyard.cursors")
    if codec is None:
        codec = CursorCodec(current_app.config["SECRET_KEY"])
        codec = current_app.extensions.setdefault("halyard.cursors", codec)
    return codec


def full_list_size():
    """The default page size that makes a seed's list whole where its envelope has no room for paging
    (a bare array: seed 001's objects, seed 002's scripts; seed 000's ``items``/``requests``, which
    its document shows unpaged): the configured cap when this request gets seed-native JSON and sends
    no paging parameter; else None (the usual default). Views pass it as ``default_size``; past the
    cap the native response carries ``Link: <next>; rel="next"``."""
    seed = seed_of(request.path)
    if seed is None or envelope_for(seed, request.endpoint).paging:
        return None
    if any(name in request.args for name in ("page", "size", "limit", "offset")):
        return None
    return current_app.config["HALYARD_PAGE_MAX_SIZE"] if _native_requested() else None


def _numbered_native_paging():
    """A seed-native list whose envelope pages (seeds 002/003): its ``count`` is the total and its
    ``next``/``previous`` keep the style the request used (limit/offset or page/size), so its pages
    are counted and numbered, never cursor pages (which count nothing)."""
    seed = seed_of(request.path)
    return bool(seed and envelope_for(seed, request.endpoint).paging and _native_requested())


def _native_requested():
    """Whether this request (on a seed path) gets seed-native JSON."""
    try:
        return negotiate(request.environ.get("HTTP_ACCEPT"), **NEGOTIATION) == JSON
    except NotAcceptable:
        return False  # respond() answers the 406


def wants_templates():
    """Whether this request's response carries ``_templates`` (HAL-FORMS or an HTML page): a list
    builds its embedded items' templates only then (they cost a little per item). Asked once."""
    wanted = g.get("halyard_wants_templates")
    if wanted is None:
        try:
            offered = NEGOTIATION if seed_of(request.path) else {}
            wanted = negotiate(request.environ.get("HTTP_ACCEPT"), **offered) in (HAL_FORMS, HTML)
        except NotAcceptable:
            wanted = False
        g.halyard_wants_templates = wanted
    return wanted


def to_dict(doc, media_type=None):
    """The document as the dict sent for ``media_type`` (HAL-FORMS and HTML carry _templates)."""
    return doc.to_dict(curies=curies, base_url=base_url(), with_templates=media_type in (HAL_FORMS, HTML))


def canonical_etag(doc):
    """The representation-independent ETag of a resource, compared against If-Match: SHA-256 of the
    bytes its HAL+JSON response carries (so a GET hashes the body it sends and encodes it once)."""
    return etag_for(encode_json(doc.to_dict(curies=curies, base_url=base_url())))


def respond(doc, status=200, headers=None, *, etag=True):
    """Render ``doc`` in the negotiated media type, with ETag and conditional GET support.

    Every response varies on ``Accept`` (negotiation). It also varies on ``Authorization`` when its body
    depends on the caller: the view checked credentials (``login_required``/``admin_required``/
    ``optional_auth``: what the caller may read), or the body carries the caller's ``_templates``
    (HAL-FORMS) or names them (HTML). The JSON of a public view (``/``, ``/rels/``) is the same for all.

    On a seed 000–003 path, JSON (also ``*/*`` and no ``Accept``) is the seed's own body, with its
    own ETag (the hash of that body): app/native.py, docs/seed-native.md.
    """
    req = request_object()  # one context lookup for path, environ and method
    seed = seed_of(req.path)
    media_type = negotiate(req.environ.get("HTTP_ACCEPT"), **(NEGOTIATION if seed else {}))
    if seed and media_type == JSON:
        return _respond_native(doc, seed, status, headers, etag)
    body = to_dict(doc, media_type)
    by_caller = "flask_httpauth_user" in g or media_type in (HAL_FORMS, HTML)  # set by every auth decorator
    response = render(
        body, media_type, status=status, headers=headers, vary=_BY_CALLER if by_caller else "Accept"
    )
    if req.method not in SAFE_METHODS:
        cache_headers_of_write(response, doc)
    if etag and status in (200, 201):
        # Without _templates the body sent is the canonical encoding itself: hash the bytes sent.
        if media_type in (HAL_FORMS, HTML):
            state = canonical_etag(doc)
        else:
            state = etag_for(response.get_data())
        suffix = representation_suffix(media_type) + caller_variant(body, media_type)
        response = make_conditional(response, state, suffix=suffix)
    return response


_BY_CALLER = "Accept, Authorization"  # the Vary of a body that depends on who asks


def _respond_native(doc, seed, status, headers, etag):
    """The seed-native JSON response of ``doc`` (application/json; ETag = hash of the body)."""
    body = native_body(doc, seed, request.endpoint)
    if not envelope_for(seed, request.endpoint).paging and (link := next_link_header(doc)):
        headers = {**dict(headers or {}), "Link": link}
    by_caller = "flask_httpauth_user" in g
    response = render(body, JSON, status=status, headers=headers, vary=_BY_CALLER if by_caller else "Accept")
    if request.method not in SAFE_METHODS:
        cache_headers_of_write(response, doc)
    if etag and status in (200, 201):
        response = make_conditional(response, etag_for(response.get_data()))  # the bytes sent
    return response


def native_etag(doc):
    """The ETag of ``doc``'s seed-native body on this (seed) path, or None elsewhere."""
    seed = seed_of(request.path)
    return etag_for(encode_json(native_body(doc, seed, request.endpoint))) if seed else None


def caller_variant(body, media_type):
    """The part of a HAL-FORMS or HTML ETag that depends on the caller (empty for plain HAL/JSON).

    The state tag hashes the document without ``_templates``; the templates a caller is offered (its
    own and its embedded items') depend on their rights, and an HTML page also names who is signed in.
    So ``-f``/``-h`` are followed by 8 hex digits of those: two callers offered different actions never
    share a tag (a 304 from one caller's tag would otherwise confirm the other's forms). If-Match
    ignores the suffix (decision 6).
    """
    if media_type not in (HAL_FORMS, HTML):
        return ""
    varies = {"templates": body.get("_templates")}
    embedded = body.get("_embedded")
    if embedded:  # each item's templates are the caller's too
        varies["items"] = {
            rel: [i.get("_templates") for i in (items if isinstance(items, list) else [items])]
            for rel, items in embedded.items()
        }
    if media_type == HTML:
        account = getattr(g, "account", None)  # set while the page was rendered (app/browsable/page.py)
        varies["account"] = getattr(account, "id", None)
    return etag_for(varies)[:8]


def created(doc, location=None):
    """201 with Location (the document's self link by default)."""
    return respond(doc, 201, {"Location": location or doc.self_href})


def accepted(location, doc=None):
    """202 Accepted for work that a job carries on, with Location of what tracks it."""
    return respond(
        doc or Document({"status": "accepted"}, self_href=location), 202, {"Location": location}, etag=False
    )


def no_content():
    """204: no body, so no Content-Type either (a client must not look for a body in some type)."""
    response = current_app.response_class(status=204)
    response.headers.pop("Content-Type", None)
    cache_headers_of_write(response)
    return response


SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def cache_headers_of_write(response, doc=None):
    """What a successful write tells a client's cache (docs/browsable.md, "Caches after a write").

    ``Content-Location``: a 200/201 whose body is the representation of a resource one may GET (the
    document's ``self``) names it, so a cache stores the new state (a 201, a restore, an edit) instead
    of keeping the old one. ``Link: <…>; rel="invalidates"``: the collections and parents the write
    changed: the GET resources above the request path and above the document's ``self`` (an item's
    list, a space above its assets, the object above its versions) and its ``collection``/``up`` links.
    The request's own URL is not listed: every cache drops it after an unsafe method anyway.
    """
    if not 200 <= response.status_code < 300:
        return
    adapter = current_app.url_map.bind("", script_name="/")
    self_href = doc.self_href if doc is not None else None
    self_path = _app_path(self_href)
    if self_path and response.status_code in (200, 201) and "Content-Location" not in response.headers:
        if _resource_path(adapter, self_path):
            response.headers["Content-Location"] = self_href
    paths = _ancestors(request.path)
    if self_path:
        paths += _ancestors(self_path) + [_app_path(doc.href(rel)) for rel in ("collection", "up")]
    written = _resource_path(adapter, request.path)
    links = []
    for path in dict.fromkeys(p for p in paths if p):
        canonical = _resource_path(adapter, path)
        if canonical and canonical != written and canonical not in links:
            links.append(canonical)
    if links:
        response.headers.add("Link", ", ".join(f'<{base_url()}{path}>; rel="invalidates"' for path in links))


def _ancestors(path):
    """The paths above ``path`` (each with and without its trailing slash: a route has one of them),
    nearest first, not ``/``."""
    parts = path.rstrip("/").split("/")
    out = []
    for end in range(len(parts) - 1, 1, -1):
        above = "/".join(parts[:end])
        out += [above + "/", above]
    return out


def _app_path(href):
    """The path of one of this app's absolute hrefs, below the script root (None for another origin)."""
    if not href or not href.startswith(base_url() + "/"):
        return None
    return urlsplit(href).path[len(request.script_root) :]


def _resource_path(adapter, path):
    """The path of the resource a GET of ``path`` reaches, as the app's links spell it (a route answers
    with and without its "/"), or None when no view answers a GET there."""
    try:
        endpoint, values = adapter.match(path, method="GET")
    except (HTTPException, RoutingException):
        return None
    return adapter.build(endpoint, values, method="GET")


def check_preconditions(doc):
    """Enforce If-Match (412 when stale, 428 when required and missing) against ``doc``'s ETag.

    A seed client echoes the ETag of the native body it read: that tag matches as well."""
    current = canonical_etag(doc)
    if "If-Match" in request.headers and (native := native_etag(doc)) and request.if_match.contains(native):
        current = native
    check_if_match(current, required=current_app.config["HALYARD_REQUIRE_IF_MATCH"])


def json_body():
    """The request's JSON body: 415 for another Content-Type, 400 when broken or past a limit (app.inputs)."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    return parse_json(request.get_data(cache=True))


def load_body(schema, *, data=None, **kwargs):
    """Validate the JSON body (or ``data``) with a marshmallow schema; 400 naming every bad field."""
    from marshmallow import ValidationError

    payload = json_body() if data is None else data
    if not isinstance(payload, (dict, list)):
        raise BodyDidNotValidate(errors={"_schema": ["Expected a JSON object."]})
    try:
        return schema.load(payload, **kwargs)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise BodyDidNotValidate(errors=messages) from None
