"""Build the OpenAPI 3.1 document from the app's url_map, the declared metadata and marshmallow schemas.

Every rule of every blueprint becomes a path (Flask's ``<conv:name>`` → ``{name}``);
every method but HEAD/OPTIONS an operation. Declared metadata (app/openapi/registry.py)
adds request bodies, success schemas and a collection's query grammar; an undeclared
operation still gets its path parameters, a generic HAL response, a generic JSON body
(for POST/PUT/PATCH) and the problem+json errors every Halyard path can answer.
"""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import make_schema_key
from marshmallow import Schema, validate
from werkzeug.routing import FloatConverter, IntegerConverter, PathConverter, UUIDConverter

from app.config import VERSION
from app.hal.grammar import int_limit
from app.inputs import MAX_QUERY_VALUE
from app.native import envelope_for, seed_of
from app.openapi.helpers import Page
from app.openapi.registry import metadata
from app.openapi.schemas import (
    COMPONENT_SCHEMAS,
    SECURITY_SCHEMES,
    hal_content,
    problem_content,
    ref,
)

SKIP_METHODS = {"HEAD", "OPTIONS"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
WRITE_METHODS = {"PUT", "PATCH", "DELETE"}
FORMATS = ["json", "hal", "hal-forms", "html"]
ERROR_TEXT = {
    400: "The query or body did not validate (`errors` names each field); also a NUL character anywhere in "
    f"the query or a JSON body, a query value past {MAX_QUERY_VALUE} characters, or a parameter given twice.",
    401: "Credentials are missing or invalid.",
    403: "Authenticated but not allowed.",
    404: "No such resource, or not one the caller may see.",
    406: "None of the Accept header's media types is offered.",
    409: "The resource's state does not allow this now (`@event` says why).",
    412: "If-Match is stale.",
    413: "The body is larger than HALYARD_MAX_UPLOAD_BYTES.",
    415: "The body's Content-Type is not accepted here.",
    416: "The Range lies outside the file.",
    428: "If-Match is required on writes (HALYARD_REQUIRE_IF_MATCH).",
    429: "Too many failed sign-ins.",
    503: "A service this request needs is unavailable.",
}
SUCCESS_TEXT = {
    200: "OK",
    201: "Created (Location names the new resource)",
    202: "Accepted: the work goes on in a job (Location names it)",
    204: "No content",
    304: "Not modified",
}
GRAMMAR_TYPES = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "uuid": {"type": "string", "format": "uuid"},
    "str": {"type": "string"},
}


_ARGUMENT = re.compile(r"<(?:[a-zA-Z_][a-zA-Z0-9_]*(?:\(.*?\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")


def openapi_path(rule):
    """``/jobs/<job_id>`` → ``/jobs/{job_id}``, with each argument's parameter."""
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _converter_schema(rule._converters.get(name)),
        }
        for name in _ARGUMENT.findall(rule.rule)
    ]
    return _ARGUMENT.sub(lambda m: "{" + m.group(1) + "}", rule.rule), params


def _converter_schema(converter):
    if isinstance(converter, IntegerConverter):
        schema = {"type": "integer", "minimum": 0}
        if getattr(converter, "max", None) is not None:
            schema["maximum"] = converter.max
        return schema
    if isinstance(converter, FloatConverter):
        return {"type": "number", "minimum": 0}
    if isinstance(converter, UUIDConverter):
        return {"type": "string", "format": "uuid"}
    # what werkzeug matches: a string is anything but "/" (path: "/" too); NUL in a path is a 404 (app.inputs)
    if isinstance(converter, PathConverter):
        return {"type": "string", "minLength": 1, "pattern": NO_NUL}
    return {"type": "string", "minLength": 1, "pattern": "^[^/\\u0000]+$"}


GRAMMAR = "grammar"
# The paging styles exclude each other (the parser's 400 "cannot be combined"): no two of these together.
EXCLUSIVE = [("page", "limit"), ("page", "offset"), ("size", "limit"), ("size", "offset")] + [
    ("cursor", other) for other in ("page", "limit", "offset")
]


def collection_parameters(collection, max_size):
    """The §4 grammar of a Collection as one query parameter: an object exploded into the query
    (``style: form, explode: true``, so each property is its own ``name=value``), whose properties are
    every name the parser accepts (``Collection.grammar(None)``), typed here. One object because the
    paging styles exclude each other (``not`` any pair of EXCLUSIVE) and no other name is accepted
    (``additionalProperties: false``): separate parameters cannot say either."""
    default_size, cap = collection.limits(None, max_size)
    paging = {
        "page": (
            {"type": "integer", "minimum": 1, "maximum": collection.max_page(cap)},
            "1-based page number (its offset stays below 2^62 at any size).",
        ),
        "size": (
            {"type": "integer", "minimum": 1, "maximum": cap, "default": default_size},
            "Items per page.",
        ),
        "cursor": (
            {"type": "string", "minLength": 1, "maxLength": 2000},
            "Keyset paging: an opaque, signed position taken from a `next`/`prev` link, with `size`, the "
            "same `sort` and any filters; not combinable with page, limit or offset. A cursor page has no "
            "`total` and costs one index seek at any depth (docs/datamanager.md, Cursor paging).",
        ),
        "limit": (
            {"type": "integer", "minimum": 1, "maximum": cap},
            "Offset-style paging (seed 003); not combinable with page/size.",
        ),
        "offset": ({"type": "integer", "minimum": 0, "maximum": collection.max_offset()}, None),
    }
    sortable = [f.name for f in collection.fields.values() if f.sortable]
    params = []
    for variable in collection.grammar(None):
        name, fld = variable.name, variable.field
        if name in paging:
            schema, description = paging[name]
            params.append({"name": name, "schema": dict(schema)})
            if description:
                params[-1]["description"] = description
        elif name == "sort":
            keys = "(" + "|".join(sortable) + ")"
            one = f"[+-]?(?:{keys[1:-1]})"
            # each key once: the lookahead refuses a key (any sign) that comes back later
            once = f"(?!.*(?:^|,)[+-]?{keys}(?:,.*)?,[+-]?\\1(?:,|$))"
            params.append(
                {
                    "name": "sort",
                    "description": f"Sort keys: {', '.join(sortable)}; `-` descending; each key once.",
                    "schema": {"type": "string", "pattern": f"^{once}{one}(,{one})*$"},
                }
            )
        elif fld is not None:
            params.append({"name": name, **_filter_parameter(variable, collection)})
    present = {p["name"] for p in params}
    pairs = [pair for pair in EXCLUSIVE if set(pair) <= present]
    schema = {
        "type": "object",
        "properties": {p["name"]: {**p["schema"], "description": p.get("description")} for p in params},
        "additionalProperties": False,
    }
    for prop in schema["properties"].values():
        if prop["description"] is None:
            del prop["description"]
    if pairs:
        schema["not"] = {"anyOf": [{"required": list(pair)} for pair in pairs]}
    description = (
        "The collection's query grammar (docs/hal.md): paging by `page`/`size`, by `limit`/`offset`"
        + (" or by `cursor` (with `size`)" if "cursor" in present else "")
        + ", never two styles at once; `sort`; filters: the property for equality, and each operator"
        " in either spelling, `title.not` or `title!`, `title.contains` or `title~`, `created.from` or"
        " `createdFrom`, `created.to` or `createdTo`. Any other name is a 400 naming it."
    )
    return [
        {
            "name": GRAMMAR,
            "in": "query",
            "style": "form",
            "explode": True,
            "required": False,
            "schema": schema,
            "description": description,
        }
    ]


def query_parameters(operation):
    """``{name: {"schema", "description"}}`` of every query name an operation of the document accepts,
    the grammar object's properties included (for readers of the document, e.g. tests)."""
    out = {}
    for param in operation.get("parameters", ()):
        if param.get("in") != "query":
            continue
        if param["name"] == GRAMMAR:
            for name, schema in param["schema"]["properties"].items():
                schema = dict(schema)
                out[name] = {"description": schema.pop("description", ""), "schema": schema}
        else:
            out[param["name"]] = param
    return out


def _filter_parameter(variable, collection):
    """Schema and description of one filter parameter (``grammar.OPERATORS`` says what each does)."""
    fld, operator = variable.field, variable.operator
    base = (
        {"type": "string", "enum": list(fld.choices)} if fld.type == "enum" else dict(GRAMMAR_TYPES[fld.type])
    )
    if fld.type == "int":  # the column's range (a bigger bound is a 400)
        base.update(minimum=-int_limit(fld), maximum=int_limit(fld))
    if operator is None:
        description = "Exact match; `a,b` matches any of them." + (
            " Returns that single item." if fld.name == collection.id_field else ""
        )
        return {"schema": base, "description": description}
    other = fld.name + operator.suffix if variable.alias else f"{fld.name}.{operator.alias}"
    schema = {"type": "string", "minLength": 1} if operator.op == "contains" else base
    return {"schema": schema, "description": f"{operator.description} Also spelled `{other}`."}


NO_NUL = "^[^\\u0000]*$"


def _plain_text(schema):
    """What every query value is held to (app/inputs.py ``check_text``): at most MAX_QUERY_VALUE characters
    and no NUL; said on each free-text string schema (an enum or a format says more already)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") != "string" or "enum" in branch or "const" in branch:
            continue
        branch["maxLength"] = min(branch.get("maxLength", MAX_QUERY_VALUE), MAX_QUERY_VALUE)
        if "pattern" not in branch and "format" not in branch:
            branch["pattern"] = NO_NUL


def _no_nul_in_bodies(document):
    """Say on every request body schema what app/inputs.py refuses in a body (400 naming the field): a
    NUL in a string (a pattern on free text) or in an object's key (``propertyNames``)."""
    components = document.get("components", {}).get("schemas", {})
    stack, seen = [], set()
    for operations in document["paths"].values():
        for op in operations.values():
            for media in (op.get("requestBody") or {}).get("content", {}).values():
                stack.append(media.get("schema", {}))
    while stack:
        schema = stack.pop()
        if not isinstance(schema, dict):
            continue
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                stack.append(components.get(name))
            continue
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "string" in kinds and not ({"enum", "const", "pattern", "format"} & set(schema)):
            schema["pattern"] = NO_NUL
        if "object" in kinds and schema.get("additionalProperties", True) is not False:
            schema.setdefault("propertyNames", {"pattern": NO_NUL})
        for key in ("properties", "patternProperties", "$defs"):
            stack.extend((schema.get(key) or {}).values())
        for key in ("items", "additionalProperties", "not"):
            stack.append(schema.get(key))
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            stack.extend(schema.get(key) or ())


def page_component(collection):
    """The component name of a collection's typed page: its rel in CamelCase, ``ec:object/versions`` →
    ``ObjectVersionsPage`` (rels are unique, so are the names)."""
    words = re.split(r"[^A-Za-z0-9]+", collection.rel.split(":", 1)[-1])
    return "".join(w[:1].upper() + w[1:] for w in words) + "Page"


TOGGLE = "Representation toggle; overrides Accept (docs/browsable.md)."


def with_toggle(params, declared):
    """Add the ``?format=`` toggle, then ``declared``, to a GET's parameters (merged with its own ``format``).

    The toggle consumes ``format`` only when the value names a representation (json, hal, hal-forms,
    html); any other value reaches the view, so a resource's own ``format`` (the downloader's filter)
    keeps working and is described as one parameter accepting either.
    """
    toggle = {"type": "string", "enum": FORMATS}
    own = next((p for p in params + declared if p["name"] == "format" and p.get("in") == "query"), None)
    grammar = next((p for p in params if p["name"] == GRAMMAR), None)
    if own is None and grammar is not None and "format" in grammar["schema"]["properties"]:
        prop = grammar["schema"]["properties"]["format"]
        description = prop.pop("description", "")
        grammar["schema"]["properties"]["format"] = {
            "anyOf": [prop, toggle],
            "description": f"{description} A representation name ({', '.join(FORMATS)}) is instead the "
            f"{TOGGLE[0].lower()}{TOGGLE[1:]}".strip(),
        }
        params += declared
        return
    if own is None:
        params.append(
            {"name": "format", "in": "query", "required": False, "schema": toggle, "description": TOGGLE}
        )
    params += declared  # after the toggle: the declared ones (headers such as Range) stay last
    if own is None:
        return
    own["schema"] = {"anyOf": [own["schema"], toggle]}
    own["description"] = (
        f"{own.get('description', '').strip()} A representation name ({', '.join(FORMATS)}) is instead the "
        f"{TOGGLE[0].lower()}{TOGGLE[1:]}"
    ).strip()


def exclusive_bounds(self, field, ret, **kwargs):
    """A marshmallow ``Range(min_inclusive=False)`` (or ``max_inclusive=False``) as JSON Schema's
    ``exclusiveMinimum``/``exclusiveMaximum`` (apispec writes an inclusive bound for it)."""
    for validator in getattr(field, "validators", ()):
        if not isinstance(validator, validate.Range):
            continue
        if validator.min is not None and not validator.min_inclusive:
            ret.pop("minimum", None)
            ret["exclusiveMinimum"] = validator.min
        if validator.max is not None and not validator.max_inclusive:
            ret.pop("maximum", None)
            ret["exclusiveMaximum"] = validator.max
    return {}


class Builder:
    """One generation run over an app."""

    def __init__(self, app, server_url):
        self.app = app
        self.plugin = MarshmallowPlugin()
        self.spec = APISpec(
            title="Halyard",
            version=_version(),
            openapi_version="3.1.0",
            plugins=[self.plugin],
            info={
                "description": "Five HTTP APIs as one HAL hypermedia graph. Start at `GET /` and follow "
                "links; this description is generated from the routes (docs/openapi.md)."
            },
            servers=[{"url": server_url}],
        )
        self.plugin.converter.add_attribute_function(exclusive_bounds)
        for name, schema in COMPONENT_SCHEMAS.items():
            self.spec.components.schema(name, schema)
        for name, scheme in SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)
        self._resource_schemas = {}

    def schema_ref(self, schema, *, response=False):
        """A $ref to the component for a marshmallow schema (class or instance).

        The request variant is the plugin's own component (``Name`` for ``NameSchema``, shared with
        any nesting of that schema); the response variant ``NameResource`` is ``allOf [HalResource,
        the schema]`` without ``additionalProperties`` (HAL members). Two different schemas of one
        name are a ValueError: one would silently describe the other's body.
        """
        if not response:
            return self.plugin.converter.resolve_nested_schema(schema)
        cls = schema if isinstance(schema, type) else type(schema)
        instance = schema if isinstance(schema, Schema) else cls()
        name = (cls.__name__.removesuffix("Schema") or cls.__name__) + "Resource"
        key = make_schema_key(instance)
        known = self._resource_schemas.setdefault(name, key)
        if known != key:
            raise ValueError(f"two response schemas are named {name}: {known} and {key}")
        if name not in self.spec.components.schemas:
            converted = self.plugin.converter.schema2jsonschema(instance)
            converted.pop("additionalProperties", None)
            self.spec.components.schema(name, {"allOf": [ref("HalResource"), converted]})
        return ref(name)

    def page_ref(self, page, collection):
        """A $ref to the component of a ``helpers.page()`` over ``collection`` (``page_component``)."""
        if collection is None:
            raise ValueError("page() describes the page of the operation's collection=; none is declared")
        item = self.schema_ref(page.item, response=True)
        name = page_component(collection)
        own = {
            "type": "object",
            "properties": {
                "_embedded": {
                    "type": "object",
                    "required": [collection.item_rel],
                    "properties": {collection.item_rel: {"type": "array", "items": item}},
                }
            },
        }
        if page.members:
            # a copy: marshmallow's SchemaMeta takes the fields out of the dict it is given
            members = type(name + "Schema", (Schema,), dict(page.members))
            members = self.plugin.converter.schema2jsonschema(members())
            own["properties"].update(members["properties"])
            if members.get("required"):
                own["required"] = members["required"]
        schema = {"allOf": [ref("CollectionPage"), own]}
        if name not in self.spec.components.schemas:
            self.spec.components.schema(name, schema)
        elif self.spec.components.schemas[name] != schema:
            raise ValueError(f"{collection.rel} has two different pages ({name}): one per collection")
        return ref(name)

    def build(self):
        paths = {}
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
                continue
            path, path_params = openapi_path(rule)
            view = self.app.view_functions.get(rule.endpoint)
            seed = seed_of(rule.rule)
            for method in sorted((rule.methods or set()) - SKIP_METHODS):
                op = self.operation(rule.endpoint, view, method, path_params, seed)
                paths.setdefault(path, {})[method.lower()] = op
        for path, operations in paths.items():
            self.spec.path(path=path, operations=operations)
        document = self.spec.to_dict()
        _no_nul_in_bodies(document)
        return document

    def operation(self, endpoint, view, method, path_params, seed=None):
        """One operation; on a seed 000-003 path (``seed``) its JSON bodies are seed-native."""
        meta = metadata(view, method)
        auth = meta.get("auth", "required")
        doc = (view.__doc__ or "").strip().splitlines() if view is not None else []
        op = {
            "operationId": f"{endpoint.replace('.', '_')}_{method.lower()}",
            "summary": meta.get("summary") or (doc[0] if doc else endpoint),
            "tags": list(meta.get("tags") or [endpoint.split(".", 1)[0]]),
            "parameters": list(path_params),
            "responses": {},
        }
        if meta.get("description"):
            op["description"] = meta["description"]
        op["security"] = self.security(auth)
        collection = meta.get("collection")
        if method == "GET" and collection is not None:
            op["parameters"] += collection_parameters(
                collection, self.app.config.get("HALYARD_PAGE_MAX_SIZE")
            )
        if method == "GET":
            with_toggle(op["parameters"], [dict(p) for p in meta.get("parameters") or ()])
        else:
            op["parameters"] += list(meta.get("parameters") or ())
        has_body = self.request_body(op, method, meta)
        self.success_responses(op, method, meta)
        if seed is not None:
            self.native_content(op, method, seed, endpoint, meta)
        self.error_responses(
            op, method, auth, bool(path_params), has_body, meta, has_query=collection is not None
        )
        for param in op["parameters"]:
            if param.get("in") == "query":
                for schema in param["schema"].get("properties", {"": param["schema"]}).values():
                    _plain_text(schema)
        if not op["parameters"]:
            del op["parameters"]
        return op

    @staticmethod
    def security(auth):
        schemes = [{"basic": []}, {"bearer": []}, {"token": []}]
        if auth == "none":
            return []
        return schemes + [{}] if auth == "optional" else schemes

    def request_body(self, op, method, meta):
        if method not in BODY_METHODS or ("request" in meta and meta["request"] is None):
            return False
        schema = meta.get("request")
        content_type = meta.get("content_type", "application/json")
        if schema is not None:
            op["requestBody"] = {
                "required": meta.get("body_required", True),
                "content": {content_type: {"schema": self.schema_ref(schema)}},
            }
        else:
            op["requestBody"] = {
                "required": False,
                "description": "Undeclared body: any JSON object.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        return True

    def success_responses(self, op, method, meta):
        declared = meta.get("responses")
        if declared is None:
            declared = {"GET": {200: None}, "POST": {201: None, 202: None}, "DELETE": {204: None}}.get(
                method, {200: None}
            )
            if meta.get("collection") is not None and method == "GET":
                declared = {200: "page"}
        for status, schema in declared.items():
            status = int(status)
            if isinstance(schema, dict):  # a complete OpenAPI response object
                op["responses"][str(status)] = schema
                continue
            response = {"description": SUCCESS_TEXT.get(status, "Success")}
            if isinstance(schema, str) and schema != "page":
                response["description"] = schema
                schema = None
            if status not in (204, 304):
                if schema == "page" or isinstance(schema, Page):
                    response.update(self.page_response(schema, meta.get("collection")))
                else:
                    response["content"] = hal_content(
                        self.schema_ref(schema, response=True) if schema else None
                    )
            headers = {}
            if status in (201, 202):
                headers["Location"] = {
                    "schema": {"type": "string"},
                    "description": "The new resource / the job.",
                }
            if method == "GET" and status == 200:
                headers["ETag"] = {"schema": {"type": "string"}, "description": "Strong entity tag."}
            if headers:
                response["headers"] = headers
            op["responses"][str(status)] = response
        if method == "GET":
            op["responses"]["304"] = {"description": SUCCESS_TEXT[304]}

    def page_response(self, page, collection):
        """Description and content of a page of ``collection``: typed by a ``helpers.page()``, or the
        generic ``CollectionPage``; or the single item ``<id_field>=x`` answers, when there is an id field."""
        if page == "page":
            body, single, description = ref("CollectionPage"), ref("HalResource"), None
        else:
            body, description = self.page_ref(page, collection), page.description
            single = self.schema_ref(page.single or page.item, response=True)
        description = description or "One page of the collection"
        if collection.id_field:
            body = {"anyOf": [body, single]}
            description += f"; `{collection.id_field}=x` answers that one item."
        else:
            description += "."
        return {"description": description, "content": hal_content(body)}

    def native_content(self, op, method, seed, endpoint, meta):
        """On a seed 000-003 path ``application/json`` (also ``*/*``, no Accept) is the seed's own body
        (docs/seed-native.md): the item schema without HAL members, or the list envelope of its seed."""
        declared = meta.get("responses")
        if declared is None and method == "GET" and meta.get("collection") is not None:
            declared = {200: "page"}  # as success_responses() reads it
        for status, response in op["responses"].items():
            content = response.get("content") or {}
            if "application/hal+json" not in content:  # a file, HTML, or a complete declared response
                continue
            schema = (declared or {}).get(int(status))
            if schema == "page" or isinstance(schema, Page):
                native = self.native_page(schema, meta.get("collection"), seed, endpoint)
            else:
                declared_schema = schema is not None and not isinstance(schema, (str, dict))
                native = self.native_ref(schema if declared_schema else None)
            content["application/json"] = {"schema": native}

    def native_ref(self, schema):
        """The seed-native body of one resource: ``<Name>Native``, the schema's own JSON Schema (no HAL
        members; extra members allowed), or any object or array when the operation declares none."""
        if schema is None:
            return {"type": ["object", "array"]}
        cls = schema if isinstance(schema, type) else type(schema)
        instance = schema if isinstance(schema, Schema) else cls()
        name = (cls.__name__.removesuffix("Schema") or cls.__name__) + "Native"
        if name not in self.spec.components.schemas:
            converted = self.plugin.converter.schema2jsonschema(instance)
            converted.pop("additionalProperties", None)
            hal = ("_links", "_embedded", "_templates")
            properties = converted.get("properties", {}).items()
            converted["properties"] = {k: v for k, v in properties if k not in hal}
            if converted.get("required"):
                converted["required"] = [k for k in converted["required"] if k not in hal]
            self.spec.components.schema(name, converted)
        return ref(name)

    def native_page(self, page, collection, seed, endpoint):
        """A list in its seed's envelope (app/native.py): a bare array, or an object with the envelope's
        constant members, ``count``/``next``/``previous`` when it pages, and the items."""
        item = self.native_ref(page.item if isinstance(page, Page) else None)
        if not isinstance(page, Page):
            item = {"type": "object"}
        envelope = envelope_for(seed, endpoint)
        if envelope.key is None:
            body = {"type": "array", "items": item}
        else:
            members = {name: {"const": value} for name, value in envelope.extra}
            if envelope.paging:
                members["count"] = {"type": "integer", "minimum": 0, "description": "The total of all pages."}
                members["next"] = {"type": ["string", "null"], "description": "The next page's URL."}
                members["previous"] = {"type": ["string", "null"], "description": "The previous page's URL."}
            members[envelope.key] = {"type": "array", "items": item}
            body = {"type": "object", "required": list(members), "properties": members}
        if collection is not None and collection.id_field:
            single = page.single or page.item if isinstance(page, Page) else None
            body = {"anyOf": [body, self.native_ref(single) if single else {"type": "object"}]}
        return body

    def error_responses(self, op, method, auth, has_path_params, has_body, meta, has_query):
        statuses = {406}
        if auth != "none":
            statuses |= {401, 429}
        if auth in ("required", "admin"):
            statuses.add(403)
        if has_path_params or auth != "none":
            statuses.add(404)
        if has_body or has_query or method == "GET":  # GET: ?format= is validated
            statuses.add(400)
        if has_body:
            statuses |= {413, 415}
        if method in WRITE_METHODS:
            statuses |= {412, 428}
        statuses |= set(meta.get("errors") or ())
        for status in sorted(statuses):
            op["responses"].setdefault(
                str(status), {"description": ERROR_TEXT.get(status, "Error"), "content": problem_content()}
            )
        op["responses"]["default"] = {
            "description": "Any other error, as problem+json.",
            "content": problem_content(),
        }


def _version():
    return VERSION


def build_spec(app, server_url):
    """The OpenAPI document (a dict) of ``app`` served at ``server_url``."""
    return Builder(app, server_url).build()
