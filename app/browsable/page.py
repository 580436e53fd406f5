"""Build the browsable page of one HAL (or problem) document.

``render_page(doc, status)`` is the renderer ``app.hal.render`` calls for ``text/html``:
it turns the document dict into a small view model (properties, links with their
template variables, embedded resources, HAL-FORMS templates, paging, the collection's
``…/options`` grammar) and renders ``browsable/page.html``. The page carries a marker
that ``app.browsable.response.fill_response_panel`` replaces with the final status and
headers, which only exist once the view has returned; ``g.halyard_page`` tells that hook
the response is a page, so it also gets the pages' security headers.
"""

import json
import re
import shlex
from urllib.parse import unquote, urlencode

import uritemplate
from flask import current_app, g, has_request_context, render_template, request
from werkzeug.exceptions import HTTPException

from app.auth import optional_auth
from app.browsable.response import PANEL_MARKER
from app.extensions import curies as registry
from app.hal import Collection, grammar
from app.hal.negotiation import default_html_renderer
from app.resources.root import entry_link

PAGING_RELS = ("first", "prev", "next", "last")
MAX_EMBED_DEPTH = 3


def display_url():
    """The request URL as the client would write it, without the consumed ``format`` toggle."""
    query = urlencode(list(request.args.items(multi=True)))
    return request.base_url + (f"?{query}" if query else "")


def curl_command(method="GET", url=None):
    """A copyable curl command for this request; credentials appear only as a placeholder."""
    parts = ["curl", "-i"]
    if method not in ("GET", "HEAD"):
        parts += ["-X", method]
    parts += ["-H", "Accept: application/hal+json"]
    auth = request.headers.get("Authorization", "")
    scheme = auth.split(" ", 1)[0] if auth else ""
    command = " ".join(shlex.quote(p) for p in parts)
    if scheme.lower() == "basic":
        command += ' -u "$LOGIN:$PASSWORD"'
    elif scheme:
        command += f' -H "Authorization: {scheme} $TOKEN"'
    return f"{command} {shlex.quote(url or display_url())}"


def template_variables(href):
    """The variables of an RFC 6570 template as [{"var": raw name, "label": decoded name}]."""
    try:
        names = uritemplate.URITemplate(href).variable_names
    except Exception:  # noqa: BLE001 — a broken template is shown as text, not as a form
        return []
    ordered = []
    for variable in uritemplate.URITemplate(href).variables:
        for name in variable.variable_names:
            if name in names and name not in [v["var"] for v in ordered]:
                ordered.append({"var": name, "label": unquote(name)})
    return ordered


def curie_docs(doc):
    """{prefix: href template} from the document's ``curies``."""
    curies = doc.get("_links", {}).get("curies") or []
    return {c.get("name"): c.get("href") for c in curies if isinstance(c, dict)}


def rel_doc_href(rel, curies):
    """Where a curied rel is documented (``ec:jobs`` → /rels/jobs), or None."""
    if ":" not in rel or rel.startswith(("http:", "https:")):
        return None
    prefix, name = rel.split(":", 1)
    template = curies.get(prefix)
    return uritemplate.expand(template, rel=name) if template else None


def link_rows(doc, curies):
    """Every link of ``doc`` (arrays flattened) as view-model rows; ``curies`` itself is left out."""
    rows = []
    for rel, value in (doc.get("_links") or {}).items():
        if rel == "curies":
            continue
        for link in value if isinstance(value, list) else [value]:
            if not isinstance(link, dict) or "href" not in link:
                continue
            href = str(link["href"])
            templated = bool(link.get("templated"))
            rows.append(
                {
                    "rel": rel,
                    "rel_doc": rel_doc_href(rel, curies),
                    "href": href,
                    "title": link.get("title") or link.get("name"),
                    "templated": templated,
                    "type": link.get("type"),
                    "variables": template_variables(href) if templated else [],
                    "safe": href.startswith(("http://", "https://", "/")),
                }
            )
    return rows


def properties_of(doc):
    return {k: v for k, v in doc.items() if k not in ("_links", "_embedded", "_templates")}


def label_of(doc):
    """A short human label for a resource: its title, name or id, else its self href."""
    for key in ("title", "name", "username", "email", "id", "uuid"):
        if doc.get(key) not in (None, ""):
            return str(doc[key])
    self_link = (doc.get("_links") or {}).get("self")
    return self_link.get("href") if isinstance(self_link, dict) else "resource"


# Collections as tables: per item rel the columns worth scanning (the first one links to the item);
# any other rel gets ``generic_columns``. Keys an item does not have are left out.
COLUMNS = {
    "ec:asset": ("title", "type", "tags", "files", "created"),
    "ec:asset/deleted": ("title", "type", "tags", "created", "deleted"),
    "ec:job": ("id", "kind", "status", "progress", "created", "ended"),
    "ec:schedule": ("endpoint", "frequency", "enabled", "next_send_at", "last_run", "triggered"),
    "ec:user": ("username", "email", "type", "active", "created"),
    "ec:datasource": ("name", "type", "status", "project", "created"),
}
LABEL_KEYS = ("title", "name", "username", "label", "filename", "email", "key", "endpoint")
KIND_KEYS = ("kind", "type", "mimetype", "status", "state", "frequency", "permission", "active", "enabled")
SIZE_KEYS = ("size", "bytes", "count", "total", "items", "resolution")
MAX_COLUMNS = 6
# Thumbnails only of raster images Halyard serves (never SVG or HTML: an <img> of a blob of these types).
THUMB_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def is_date(key, value):
    return isinstance(value, str) and bool(RFC3339.match(value))


def generic_columns(items):
    """Columns for items of an unknown rel: a label, then kinds/status, dates, sizes, other short values."""
    keys = []
    for item in items:
        keys += [k for k in item if k not in keys]
    sample = {k: next((i[k] for i in items if i.get(k) is not None), None) for k in keys}
    label = next((k for k in LABEL_KEYS if k in sample), None) or next(
        (k for k in keys if k.lower() in ("id", "uuid") or k.lower().endswith("id")), None
    )
    scalar = [k for k in keys if k != label and not isinstance(sample[k], dict)]
    ordered = (
        [k for k in KIND_KEYS if k in scalar]
        + [k for k in scalar if is_date(k, sample[k])]
        + [k for k in scalar if k in SIZE_KEYS or k.endswith("_size")]
        + [k for k in scalar if not isinstance(sample[k], list) and not k.lower().endswith("id")]
        + [k for k in scalar if isinstance(sample[k], list)]
    )
    chosen = [label] if label else []
    for key in ordered:
        if key not in chosen and len(chosen) <= MAX_COLUMNS:
            chosen.append(key)
    return chosen


def human_size(n):
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def cell(key, value):
    """One table cell: {"text", "title" (the exact value when the text shortens it), "kind"}."""
    if value is None or value == "" or value == []:
        return {"text": "—", "title": None, "kind": "null"}
    if isinstance(value, bool):
        return {"text": "yes" if value else "no", "title": None, "kind": "bool"}
    if isinstance(value, (int, float)) and (key in ("size", "bytes") or key.endswith("_size")):
        return {"text": human_size(value), "title": f"{value} bytes", "kind": "num"}
    if isinstance(value, (int, float)):
        return {"text": str(value), "title": None, "kind": "num"}
    if is_date(key, value):
        return {"text": value[:16].replace("T", " "), "title": value, "kind": "date"}
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return {"text": ", ".join(map(str, value)), "title": None, "kind": "list"}
        return {
            "text": f"{len(value)} {'item' if len(value) == 1 else 'items'}",
            "title": None,
            "kind": "list",
        }
    if isinstance(value, dict):
        parts = [f"{k}: {v}" for k, v in value.items() if v is not None and not isinstance(v, (dict, list))]
        return {"text": ", ".join(parts) or "—", "title": None, "kind": "dict"}
    text = str(value)
    return {
        "text": text if len(text) <= 80 else text[:79] + "…",
        "title": text if len(text) > 80 else None,
        "kind": "str",
    }


def thumbnail(links):
    """The href of an item's first link to a raster image (its own file/variant link), or None."""
    for row in links:
        if row["safe"] and not row["templated"] and (row["type"] or "").split(";")[0].strip() in THUMB_TYPES:
            return row["href"]
    return None


def item_table(rel, items):
    """The embedded items of a collection as a table model (columns per rel, one row per item)."""
    props = [i["properties"] for i in items]
    preferred = COLUMNS.get(rel)
    keys = [k for k in preferred if any(k in p for p in props)] if preferred else generic_columns(props)
    rows = [
        {
            "self": item["self"],
            "label": item["label"],
            "thumb": thumbnail(item["links"]),
            "cells": [cell(k, item["properties"].get(k)) for k in keys]
            or [{"text": item["label"], "title": None, "kind": "str"}],
        }
        for item in items
    ]
    keys = keys or ["item"]
    return {
        "columns": [{"key": k, "sort": None, "sorted": None} for k in keys],
        "rows": rows,
        "thumbs": any(r["thumb"] for r in rows),
    }


def view_model(doc, curies, depth=0):
    """The parts of a document the template renders, recursively for embedded resources."""
    self_link = (doc.get("_links") or {}).get("self")
    embedded = []
    if depth < MAX_EMBED_DEPTH:
        for rel, value in (doc.get("_embedded") or {}).items():
            items = value if isinstance(value, list) else [value]
            models = [view_model(item, curies, depth + 1) for item in items if isinstance(item, dict)]
            embedded.append(
                {
                    "rel": rel,
                    "rel_doc": rel_doc_href(rel, curies),
                    "is_array": isinstance(value, list),
                    "items": models,
                    "table": item_table(rel, models)
                    if depth == 0 and isinstance(value, list) and models
                    else None,
                }
            )
    properties = properties_of(doc)
    return {
        "label": label_of(doc),
        "self": self_link.get("href") if isinstance(self_link, dict) else None,
        "properties": properties,
        # a top-level list of objects (``relations`` of /rels/) reads better as a table than nested tables
        "tables": {
            k: item_table(None, [{"self": None, "label": "", "links": [], "properties": v} for v in value])
            for k, value in properties.items()
            if depth == 0
            and isinstance(value, list)
            and len(value) > 1
            and all(isinstance(v, dict) for v in value)
        },
        "links": link_rows(doc, curies),
        "embedded": embedded,
    }


def _form_text(value, multiple):
    """What a form field shows of a prefilled value: a list of plain values one per line, a JSON
    object or array (a textarea's value) as JSON, anything else as it is."""
    if isinstance(value, list) and multiple:
        return "\n".join(map(str, value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=1, ensure_ascii=False)
    return value


def template_forms(doc, self_href):
    """HAL-FORMS templates as form descriptions; the target defaults to the resource itself."""
    forms = []
    for name, tpl in (doc.get("_templates") or {}).items():
        properties = []
        for prop in tpl.get("properties") or []:
            options = prop.get("options") or {}
            inline = options.get("inline") if isinstance(options, dict) else None
            value = prop.get("value")
            values = value if isinstance(value, list) else [] if value is None else [value]
            link = options.get("link") if isinstance(options, dict) else None
            multiple = bool(prop.get("multiple") or (isinstance(options, dict) and options.get("multiple")))
            properties.append(
                {
                    **prop,
                    "multiple": multiple,
                    # options.link: the page script lists the collection's items as suggestions
                    "options_link": (link.get("href"), options.get("promptField"), options.get("valueField"))
                    if isinstance(link, dict) and link.get("href")
                    else None,
                    # what the form shows: one value per line for a list, JSON for an object
                    "text": _form_text(value, multiple),
                    "selected": {str(v) for v in values},
                    "choices": [
                        (o.get("value"), o.get("prompt", o.get("value"))) if isinstance(o, dict) else (o, o)
                        for o in inline or []
                    ],
                }
            )
        content_type = tpl.get("contentType") or "application/json"
        if any(p.get("type") == "file" for p in properties):
            content_type = "multipart/form-data"
        forms.append(
            {
                "name": name,
                "title": tpl.get("title") or name,
                "method": (tpl.get("method") or "GET").upper(),
                "content_type": content_type,
                "target": tpl.get("target") or self_href or request.base_url,
                "properties": properties,
            }
        )
    return forms


def paging(doc):
    """Paging controls for a collection page (None when the document is not paged)."""
    links = doc.get("_links") or {}
    if not any(rel in links for rel in PAGING_RELS) and "total" not in doc:
        return None
    return {
        "links": {rel: links[rel]["href"] for rel in PAGING_RELS if isinstance(links.get(rel), dict)},
        "count": doc.get("count"),
        "total": doc.get("total"),
    }


# The Filter ops (grammar.OPS) a "between" row of the filter form joins: one row, both range bounds.
BOUNDS = ("from", "to")


def form_operators():
    """The filter form's operators, op -> (what the picker shows, the variable's suffix): the bare
    property (``eq``), the grammar's operators (app/hal/grammar.py OPERATORS, their one home; read at
    each call) and the form's own ``between`` (no variable of its own)."""
    return {
        "eq": ("=", ""),
        **{o.op: (o.symbol, o.suffix) for o in grammar.OPERATORS},
        "between": ("/".join(BOUNDS), None),
    }


PAGING_VARS = ("page", "size", "limit", "offset")


def _ops_of(name, labels, field=None):
    """The operators a field offers: from its declaration, else from which suffixed variables exist."""
    operators = form_operators()
    if field is not None:
        ops = ["eq"] + [o.op for o in grammar.OPERATORS if o.applies(field)]
        if field.type == "datetime":  # a date picker: ranges only (a day is not one instant)
            ops = list(BOUNDS)
    else:
        ops = [op for op, (_, suffix) in operators.items() if suffix is not None and name + suffix in labels]
    if all(bound in ops for bound in BOUNDS) and "between" not in ops:
        ops.append("between")
    return [op for op in ops if op == "between" or name + operators[op][1] in labels]


def _input_of(field):
    """(input type, choices) of a field's value box."""
    if field is None or field.type in ("str", "uuid"):
        return "text", []
    if field.type in ("int", "float"):
        return "number", []
    if field.type == "datetime":
        return "date", []
    if field.type == "bool":
        return "select", ["true", "false"]
    return "select", [str(getattr(c, "value", c)) for c in field.choices]


def _current(name, args, ops):
    """(op, first value, second value) of a field in the current query (the first operator used)."""
    suffixes = form_operators()
    has = {op: args.get(name + suffixes[op][1]) for op in ops if op != "between"}
    low, high = BOUNDS
    if has.get(low) is not None and has.get(high) is not None:
        return "between", has[low], has[high]
    for op, value in has.items():
        if value is not None:
            return op, value, ""
    return ops[0], "", ""


def _suffix_partners():
    """Each operator's suffix with, for a range bound, the other bound's suffix: ``createdFrom`` names
    the field ``created`` only beside ``createdTo`` or ``created`` (a property may end in "From")."""
    suffixes = {o.op: o.suffix for o in grammar.OPERATORS}
    other = {BOUNDS[0]: BOUNDS[1], BOUNDS[1]: BOUNDS[0]}
    return [(o.suffix, suffixes.get(other[o.op]) if o.op in other else None) for o in grammar.OPERATORS]


def _base_names(labels):
    """The fields behind a template's variables when nothing declares them: each suffixed variable
    (``title!``, ``title~``; ``createdFrom`` with ``createdTo`` or ``created``) counts for its field."""
    names = []
    for label in labels:
        if label in PAGING_VARS + ("sort",):
            continue
        base = label
        for suffix, partner in _suffix_partners():
            stem = label[: -len(suffix)]
            if (
                label.endswith(suffix)
                and stem
                and (partner is None or stem in labels or stem + partner in labels)
            ):
                base = stem
                break
        if base not in names:
            names.append(base)
    return names


def grammar_form(rows):
    """The collection's ``…/options`` template as one typed filter/sort form, prefilled from the query.

    The variables come from the template; their types, enums and sortable fields from the declared
    ``Collection`` with that rel and exactly those variables (without one: text boxes, operators read
    from the suffixed variables, no sort choices)."""
    row = next((r for r in rows if r["rel"].endswith("/options") and r["templated"]), None)
    if row is None:
        return None
    var_of = {v["label"]: v["var"] for v in row["variables"]}
    collection = Collection.declared(row["rel"].removesuffix("/options"), var_of)
    declared = collection.fields if collection else {}
    args = {k: ",".join(request.args.getlist(k)) for k in request.args}
    names = [n for n in var_of if n in declared] if collection else _base_names(var_of)
    extras = [n for n in var_of if collection and n in collection.extra_params]
    fields = []
    operators = form_operators()
    for name in names:
        if name in extras:
            continue
        field = declared.get(name)
        ops = _ops_of(name, var_of, field)
        if not ops:
            ops = ["eq"]
        kind, choices = _input_of(field)
        op, first, second = _current(name, args, ops)
        fields.append(
            {
                "name": name,
                "type": kind,
                "choices": choices,
                "ops": [(o, operators[o][0]) for o in ops],
                "vars": {o: var_of[name + operators[o][1]] for o in ops if o != "between"},
                "op": op,
                "value": first,
                "value2": second,
            }
        )
    sortable = [f.name for f in declared.values() if f.sortable]
    default_sort = (
        ",".join(("-" if desc else "") + n for n, desc in collection.default_sort) if collection else ""
    )
    size_var = next((n for n in ("size", "limit") if n in var_of), None)
    return {
        **row,
        "collection_base": row["href"].split("{")[0],
        "fields": fields,
        "extras": [{"name": n, "var": var_of[n], "value": args.get(n, "")} for n in extras],
        "sort_var": var_of.get("sort"),
        "sortable": sortable,
        "sort": args.get("sort", default_sort),
        "size_var": var_of.get(size_var) if size_var else None,
        "size_name": size_var,
        "size": args.get(size_var, "") if size_var else "",
        "var_of": var_of,
    }


def sort_href(grammar, key):
    """The collection URL sorted by ``key`` (descending when it already is the ascending first key): the
    ``…/options`` template expanded with the current query (paging restarted)."""
    current = grammar["sort"].split(",")[0] if grammar["sort"] else ""
    wanted = f"-{key}" if current == key else key
    values = {
        grammar["var_of"][k]: v
        for k, v in ((k, ",".join(request.args.getlist(k))) for k in request.args)
        if k in grammar["var_of"] and k not in ("page", "offset", "sort")
    }
    values[grammar["sort_var"]] = wanted
    return uritemplate.expand(grammar["href"], values), (
        "asc" if current == key else "desc" if current == f"-{key}" else None
    )


def attach_sorting(model, grammar):
    """Sort links on the headers of the collection table whose columns the collection can sort by."""
    if not grammar or not grammar["sort_var"]:
        return
    for group in model["embedded"]:
        for column in (group["table"] or {}).get("columns", []):
            if column["key"] in grammar["sortable"]:
                column["sort"], column["sorted"] = sort_href(grammar, column["key"])


def _grammar_rows(collection):
    """A declared collection's grammar as rows: field, type, operators, sortable, choices."""
    rows = []
    operators = form_operators()
    for f in collection.fields.values():
        ops = (
            _ops_of(f.name, {f.name + s for _, s in operators.values() if s is not None}, f)
            if f.filterable
            else []
        )
        rows.append(
            {
                "name": f.name,
                "type": f.type,
                "ops": [operators[o][0] for o in ops if o != "between"],
                "sortable": f.sortable,
                "choices": [str(getattr(c, "value", c)) for c in f.choices],
            }
        )
    return rows


def relation_model(doc, curies):
    """What a relation page (``GET /rels/<rel>``) shows beyond its properties: its methods, properties
    and templates (the relation's documentation), the grammar of the collection it names or lists its
    items in, and where the entry point links it."""
    if request.endpoint != "root.rel" or "curie" not in doc:
        return None

    curies = curies or {registry.name: registry.curie_link(request.host_url)["href"]}
    curie = doc["curie"]
    collection = Collection.declared(curie)
    parent = Collection.declared(curie, item=True)
    entry = current_app.extensions.get("halyard.entry", {}).get(curie)
    href = None
    if entry is not None:
        href = entry_link(entry).href
    return {
        "methods": doc.get("methods") or [],
        "properties": doc.get("properties") or [],
        "templates": doc.get("templates") or {},
        "collection": {
            "item_rel": collection.item_rel,
            "item_doc": rel_doc_href(collection.item_rel, curies),
            "fields": _grammar_rows(collection),
            "default_sort": ",".join(("-" if d else "") + n for n, d in collection.default_sort),
            "operators": [("prop" + o.suffix, o.alias) for o in grammar.OPERATORS],
        }
        if collection
        else None,
        "listed_in": {"rel": parent.rel, "doc": rel_doc_href(parent.rel, curies)} if parent else None,
        "entry_href": href,
        "entry_templated": bool(entry and (entry["path_vars"] or entry["query_vars"])),
    }


def pretty_json(doc):
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


def signed_in_account(status):
    """Who the page is for. Public views and error pages raised before any view (a 404 from routing) skip
    authentication, so the page verifies the credentials itself (to say who is signed in), but never
    after a sign-in failed in this request (401, 429 or a recorded ``auth_event``), so that it counts once."""
    account = getattr(g, "account", None)
    tried = status in (401, 429) or g.get("auth_event")
    if account is None and not tried and request.headers.get("Authorization"):
        try:
            optional_auth(lambda: None)()
        except HTTPException:  # throttled while rendering another answer: that answer stands, anonymously
            return None
        account = getattr(g, "account", None)
    return account


def render_page(doc, status):
    """The HTML page of ``doc`` (a HAL document or a problem) answered with ``status``.

    Outside a request (app/hal used on its own) the library's default renderer answers.
    """
    if not has_request_context():
        return default_html_renderer(doc, status)
    g.halyard_page = True  # this response is a browsable page: fill_response_panel marks it as one
    curies = curie_docs(doc)
    model = view_model(doc, curies)
    is_problem = doc.get("@type") == "error" and "status" in doc
    account = signed_in_account(status)
    grammar = grammar_form(model["links"])
    attach_sorting(model, grammar)
    return render_template(
        "browsable/page.html",
        doc=model,
        status=status,
        is_problem=is_problem,
        problem=doc if is_problem else None,
        title=str(doc.get("title") or model["label"]) if is_problem or doc.get("title") else request.path,
        forms=template_forms(doc, model["self"]),
        paging=paging(doc),
        grammar=grammar,
        relation=relation_model(doc, curies),
        raw=pretty_json(doc),
        method=request.method,
        url=display_url(),
        base_url=request.base_url,
        curl=curl_command(),
        account=account,
        panel_marker=PANEL_MARKER,
        formats=("json", "hal", "hal-forms"),
    )
