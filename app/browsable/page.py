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
import shlex
from urllib.parse import unquote, urlencode

import uritemplate
from flask import g, has_request_context, render_template, request
from werkzeug.exceptions import HTTPException

from app.browsable.response import PANEL_MARKER

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


def view_model(doc, curies, depth=0):
    """The parts of a document the template renders, recursively for embedded resources."""
    self_link = (doc.get("_links") or {}).get("self")
    embedded = []
    if depth < MAX_EMBED_DEPTH:
        for rel, value in (doc.get("_embedded") or {}).items():
            items = value if isinstance(value, list) else [value]
            embedded.append(
                {
                    "rel": rel,
                    "rel_doc": rel_doc_href(rel, curies),
                    "is_array": isinstance(value, list),
                    "items": [
                        view_model(item, curies, depth + 1) for item in items if isinstance(item, dict)
                    ],
                }
            )
    return {
        "label": label_of(doc),
        "self": self_link.get("href") if isinstance(self_link, dict) else None,
        "properties": properties_of(doc),
        "links": link_rows(doc, curies),
        "embedded": embedded,
    }


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
            properties.append(
                {
                    **prop,
                    # what the form shows: one item per line for a list, the value as text otherwise
                    "text": "\n".join(map(str, values)) if isinstance(value, list) else value,
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


def grammar_form(rows):
    """The collection's ``…/options`` template as a filter/sort form, prefilled from the query."""
    for row in rows:
        if row["rel"].endswith("/options") and row["templated"]:
            values = {k: ",".join(request.args.getlist(k)) for k in request.args}
            return {**row, "values": values}
    return None


def pretty_json(doc):
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


def signed_in_account(status):
    """Who the page is for. Public views and error pages raised before any view (a 404 from routing) skip
    authentication, so the page verifies the credentials itself (to say who is signed in), but never
    after a sign-in failed in this request (401, 429 or a recorded ``auth_event``), so that it counts once."""
    account = getattr(g, "account", None)
    tried = status in (401, 429) or g.get("auth_event")
    if account is None and not tried and request.headers.get("Authorization"):
        from app.auth import optional_auth

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
        from app.hal.negotiation import default_html_renderer

        return default_html_renderer(doc, status)
    g.halyard_page = True  # this response is a browsable page: fill_response_panel marks it as one
    curies = curie_docs(doc)
    model = view_model(doc, curies)
    is_problem = doc.get("@type") == "error" and "status" in doc
    account = signed_in_account(status)
    return render_template(
        "browsable/page.html",
        doc=model,
        status=status,
        is_problem=is_problem,
        problem=doc if is_problem else None,
        title=str(doc.get("title") or model["label"]) if is_problem or doc.get("title") else request.path,
        forms=template_forms(doc, model["self"]),
        paging=paging(doc),
        grammar=grammar_form(model["links"]),
        raw=pretty_json(doc),
        method=request.method,
        url=display_url(),
        base_url=request.base_url,
        curl=curl_command(),
        account=account,
        panel_marker=PANEL_MARKER,
        formats=("json", "hal", "hal-forms"),
    )
