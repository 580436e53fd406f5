"""A generic walk with restnavigator: discover every collection from ``GET /``, page it, filter and sort it.

Nothing here knows Halyard's URLs or domains. The rules (the same as ketting_walk.mjs):

- Discovery is breadth-first from ``/`` over non-templated links (and templated links whose every
  variable has a value in ``template_values``), skipping navigation rels (self, up, collection, paging,
  curies, ...) and links that declare a non-JSON ``type``; a document is a *collection* when it has
  ``total`` and ``_embedded``. The first embedded item of each collection is fetched by its ``self`` and
  its links explored too. Bounded by ``max_docs`` fetches.
- Each collection (keyed by the rel that reached it first) is walked: its templated ``…/options`` link is
  expanded with ``size`` (or ``?size=`` is added), ``next`` is followed to the end, every item's ``self``
  is recorded; then an exact filter on a property of the first item that the template offers, and a
  descending sort on one of them.
"""

import re
from collections import deque
from urllib.parse import parse_qsl, urlencode, urlsplit

import uritemplate
from restnavigator import Navigator
from restnavigator.exc import HALNavigatorError, UnexpectedlyNotJSON

SKIP = {
    "self",
    "up",
    "collection",
    "curies",
    "next",
    "prev",
    "first",
    "last",
    "service-desc",
    "describedby",
    "profile",
    "edit-form",
    "ec:rels",
}
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
JSONISH = ("application/hal+json", "application/json", "application/prs.hal-forms+json")


def _links(nav):
    for rel, value in nav.links().items():
        for link in value if isinstance(value, list) else [value]:
            yield rel, link


def _href(link):
    return link.template_uri if hasattr(link, "template_uri") else link.uri


def _is_collection(state, nav):
    """A numeric ``total`` and paging links (``last`` is always there, ``next`` while more remain)."""
    links = nav.links()
    return isinstance(state.get("total"), int) and ("last" in links or "next" in links)


def _items(nav):
    embedded = nav.embedded() or {}
    out = []
    for value in embedded.values():
        out += value if isinstance(value, list) else [value]
    return out


def discover(base, headers, template_values, max_docs=250):
    """(root, {rel: first-page HALNavigator} for every collection reachable from ``base``/, 5xx met)."""
    root = Navigator.hal(base + "/", headers=headers)
    root()
    queue, seen, collections, fetched, errors = deque([root]), {root.uri}, {}, 0, []
    while queue and fetched < max_docs:
        nav = queue.popleft()
        for rel, link in _links(nav):
            if rel in SKIP or rel.endswith("/options"):
                continue
            declared = (link.link if hasattr(link, "template_uri") else link.self).props.get("type")
            if declared and not declared.startswith(JSONISH):
                continue
            if hasattr(link, "template_uri"):  # templated: only when every variable has a value
                variables = uritemplate.variables(link.template_uri)
                if not variables <= set(template_values):
                    continue
                link = link(**{v: template_values[v] for v in variables})
            if link.uri in seen:
                continue
            seen.add(link.uri)
            fetched += 1
            try:
                state = link.fetch(raise_exc=False)
            except (HALNavigatorError, UnexpectedlyNotJSON) as error:  # problem+json, a file, HTML
                if (getattr(error, "status", None) or 0) >= 500:
                    errors.append(f"{link.uri}: {error.status}")
                continue
            if link.status is not None and link.status[0] >= 500:
                errors.append(f"{link.uri}: {link.status[0]}")
            if link.status is None or link.status[0] != 200:
                continue
            if _is_collection(state, link):
                if rel not in collections:
                    collections[rel] = link
                    items = _items(link)
                    if items and "self" in items[0].links():
                        first = items[0].links()["self"]
                        if first.uri not in seen:
                            seen.add(first.uri)
                            first.fetch(raise_exc=False)
                            if first.status and first.status[0] == 200:
                                queue.append(first)
            else:
                queue.append(link)
    return root, collections, errors


def _options(nav):
    for rel, link in _links(nav):
        if rel.endswith("/options") and hasattr(link, "template_uri"):
            return link
    return None


def walk_collection(nav, page_size):
    """Page the collection with ``next``; then one exact filter and one descending sort from its template."""
    options = _options(nav)
    # the collection's own query (e.g. a required search term) is kept when the template is expanded
    keep = {
        k: v for k, v in parse_qsl(urlsplit(nav.uri).query) if options is not None and k in options.variables
    }
    if options is not None and "size" in options.variables:
        page = options(**keep, size=page_size)
    else:
        page = Navigator.hal(
            nav.uri + ("&" if "?" in nav.uri else "?") + urlencode({"size": page_size}),
            headers=dict(nav.headers),
        )
    state = page()
    total, seen, pages = state["total"], [], 0
    while True:
        pages += 1
        seen += [item.self.uri for item in _items(page)]
        if "next" not in page.links():
            break
        page = page.links()["next"]
        page.fetch()
    result = {
        "total": total,
        "pages": pages,
        "visited": len(seen),
        "unique": len(set(seen)),
        "filter": None,
        "sort": None,
    }
    first = _items(nav)
    if options is None or not first:
        return result
    item = first[0]
    item.fetch()
    candidates = [
        (name, value)
        for name, value in item.state.items()
        if name in options.variables
        and name not in ("size", "page", "sort", "limit", "offset")
        and isinstance(value, (str, int, bool))
        and value is not None
    ]
    # a datetime's representation is rounded to the second: prefer values that compare exactly
    candidates.sort(key=lambda pair: isinstance(pair[1], str) and bool(DATETIME.match(pair[1])))
    for name, value in candidates:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        filtered = options(**{**keep, name: text, "size": page_size})
        try:
            got = filtered.fetch(raise_exc=False)
        except HALNavigatorError:  # a problem+json answer: not a filter this collection offers
            continue
        if filtered.status[0] != 200 or "total" not in got:  # an id lookup answers with the item
            continue
        matches = [i.state.get(name) == value for i in _items(filtered)]
        result["filter"] = {
            "name": name,
            "total": got["total"],
            "all_match": all(matches),
            "count": len(matches),
        }
        break
    for name, value in candidates:
        if isinstance(value, bool):
            continue
        ordered = options(**keep, sort="-" + name, size=max(page_size, 10))
        try:
            ordered.fetch(raise_exc=False)
        except HALNavigatorError:  # 400 problem+json: not sortable
            continue
        if ordered.status[0] != 200:
            continue
        values = [i.state.get(name) for i in _items(ordered) if i.state.get(name) is not None]
        result["sort"] = {
            "name": name,
            "descending": values == sorted(values, reverse=True),
            "count": len(values),
        }
        break
    return result


def walk(base, headers, template_values, page_size):
    """{"discovered": [...], "walked": {rel: result}, "rootRels": [...], "serverErrors": [...]}."""
    root, collections, errors = discover(base, headers, template_values)
    walked = {rel: walk_collection(nav, page_size) for rel, nav in sorted(collections.items())}
    return {
        "rootRels": sorted(root.links()),
        "discovered": sorted(collections),
        "walked": walked,
        "serverErrors": errors,
    }
