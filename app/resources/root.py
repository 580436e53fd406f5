"""The entry point ``GET /``, relation docs ``GET /rels/{rel}`` and error docs ``GET /problems/{event}``.

Domains add their top-level links with ``register_entry(app, rel, endpoint, ...)`` (or a table of
them with ``register_entries``) and document their relations with ``document_relations`` from
their ``init_app``; the entry point lists whatever was registered, so no
list here is edited by hand when a domain lands.
"""

import dataclasses

from flask import Blueprint, current_app
from marshmallow import Schema, fields

from app.config import VERSION
from app.errors import STATUS_EVENTS, NotFound
from app.extensions import curies
from app.hal import Document, Link, query_template
from app.openapi import api_doc
from app.representation import respond, url, wants_templates

bp = Blueprint("root", __name__)


class EntryPointSchema(Schema):
    """``GET /``'s own properties (its links are the registered entries)."""

    title = fields.String()
    version = fields.String()


def register_entry(app, rel, endpoint, *, title, path_vars=None, query_vars=None, values=None, template=None):
    """Add a link to ``GET /``: ``rel`` → ``endpoint``; ``path_vars`` {arg: template name} makes it
    templated. ``template`` (a function returning a HAL-FORMS ``Template``) describes a link one only
    POSTs to: ``/`` carries it under the rel's name, with the link as its ``target``."""
    app.extensions.setdefault("halyard.entry", {})[rel] = {
        "endpoint": endpoint,
        "title": title,
        "path_vars": path_vars or {},
        "query_vars": query_vars or (),
        "values": values or {},
        "template": template,
    }


def register_entries(app, entries):
    """``register_entry`` for each row of a domain's ``ENTRIES`` table, ``{rel: (endpoint, title,
    path_vars)}``; ``path_vars`` is None for a plain link, ``{arg: template name}`` for a by-id one."""
    for rel, (endpoint, title, path_vars) in entries.items():
        register_entry(app, rel, endpoint, title=title, path_vars=path_vars)


def document_relations(relations, properties=None):
    """Document each row of a domain's ``RELATIONS`` table, ``{rel: (title, methods, description)}``,
    under ``GET /rels/{rel}``; ``properties`` ({rel: [Property]}) adds a relation's body properties."""
    for rel, (title, methods, description) in relations.items():
        curies.document(
            rel,
            title=title,
            methods=methods,
            description=description,
            properties=(properties or {}).get(rel),
        )


def url_template(endpoint, path_vars, query_vars=(), **values):
    """An RFC 6570 template for ``endpoint``: path arguments become ``{name}`` variables."""
    sentinels = {arg: f"__tpl_{arg}__" for arg in path_vars}
    try:
        href = url(endpoint, **values, **sentinels)
    except ValueError:
        # <int:...> converters refuse text: build with unlikely numbers, then swap them for the variables
        sentinels = {arg: str(918273645100 + i) for i, arg in enumerate(path_vars)}
        href = url(endpoint, **values, **sentinels)
    for arg, name in path_vars.items():
        href = href.replace(sentinels[arg], "{" + name + "}")
    return query_template(href, query_vars) if query_vars else href


def entry_link(entry):
    if entry["path_vars"] or entry["query_vars"]:
        href = url_template(entry["endpoint"], entry["path_vars"], entry["query_vars"], **entry["values"])
        return Link(href, templated=True, title=entry["title"])
    return Link(url(entry["endpoint"], **entry["values"]), title=entry["title"])


@bp.get("/")
@api_doc(auth="optional", tags=["meta"], responses={200: EntryPointSchema})
def index():
    """The API's entry point: a link to every top-level collection and action."""
    doc = Document({"title": "Halyard", "version": VERSION}, self_href=url("root.index"))
    for rel, entry in sorted(current_app.extensions.get("halyard.entry", {}).items()):
        link = entry_link(entry)
        doc.link(rel, link)
        if entry["template"] is not None and wants_templates():
            doc.template(rel, dataclasses.replace(entry["template"](), target=link.href))
    doc.link("ec:rels", Link(url("root.rels"), title="Documentation of every link relation"))
    return respond(doc)


@bp.get("/rels/")
@api_doc(auth="none", tags=["meta"])
def rels():
    """Every documented relation, each also linked as an ``item`` (its page)."""
    relations = curies.all()
    doc = Document({"relations": relations}, self_href=url("root.rels"))
    doc.link("up", url("root.index"))
    doc.links("item", [Link(url("root.rel", rel=r["rel"]), title=r["curie"]) for r in relations])
    return respond(doc)


@bp.get("/rels/<path:rel>")
@api_doc(auth="none", tags=["meta"])
def rel(rel):
    """What a relation points to, its methods, properties and templates (a browsable page in HTML)."""
    info = curies.get(rel)
    if info is None:
        raise NotFound("relation", f"No relation named ec:{rel} is documented.")
    doc = Document(dict(info), self_href=url("root.rel", rel=rel))
    doc.link("collection", url("root.rels"))
    doc.link("up", url("root.index"))
    return respond(doc)


@bp.get("/problems/<event>")
@api_doc(auth="none", tags=["meta"])
def problem(event):
    """Documentation of an error type (the ``type`` and ``describedby`` of problem bodies)."""
    statuses = [code for code, name in STATUS_EVENTS.items() if name == event]
    doc = Document(
        {
            "event": event,
            "title": event.replace("_", " ").capitalize(),
            "statuses": statuses,
            "description": "Errors are application/problem+json (RFC 9457) with @event, errors and user_id; "
            "see docs/errors.md.",
        },
        self_href=url("root.problem", event=event),
    )
    doc.link("up", url("root.index"))
    return respond(doc)


def init_app(app):
    app.register_blueprint(bp)
    curies.document("rels", title="Relation documentation", description="The list of documented relations.")
