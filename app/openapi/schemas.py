"""The generic JSON Schemas every Halyard operation shares: HAL resources, collection pages, problems."""

MEDIA_HAL = (
    "application/hal+json",
    "application/vnd.hal+json",
    "application/prs.hal-forms+json",
    "application/json",
)
PROBLEM = "application/problem+json"
HTML = "text/html"


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {
        "href": {"type": "string"},
        "templated": {"type": "boolean"},
        "title": {"type": "string"},
        "type": {"type": "string"},
        "name": {"type": "string"},
        "profile": {"type": "string"},
        "deprecation": {"type": "string"},
        "hreflang": {"type": "string"},
    },
}

LINK_OR_LINKS = {"oneOf": [ref("Link"), {"type": "array", "items": ref("Link")}]}

HAL_RESOURCE = {
    "type": "object",
    "description": "A HAL resource (draft-kelly-json-hal): properties, _links (self always), _embedded, and "
    "_templates (HAL-FORMS) in application/prs.hal-forms+json.",
    "required": ["_links"],
    "properties": {
        "_links": {
            "type": "object",
            "required": ["self"],
            "properties": {"self": ref("Link"), "curies": {"type": "array", "items": ref("Link")}},
            "additionalProperties": LINK_OR_LINKS,
        },
        "_embedded": {
            "type": "object",
            "additionalProperties": {
                "oneOf": [ref("HalResource"), {"type": "array", "items": ref("HalResource")}]
            },
        },
        "_templates": {"type": "object", "additionalProperties": ref("HalFormsTemplate")},
    },
}

HAL_FORMS_TEMPLATE = {
    "type": "object",
    "required": ["method", "properties"],
    "properties": {
        "method": {"type": "string"},
        "contentType": {"type": "string"},
        "title": {"type": "string"},
        "target": {"type": "string"},
        "properties": {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        },
    },
}

PAGE = {
    "description": "One page of a collection (DESIGN.md §4): count, total, paging links, the …/options "
    "template, and the items under _embedded (always an array). A `cursor=` page has no total.",
    "allOf": [
        ref("HalResource"),
        {
            "type": "object",
            "required": ["count", "_embedded"],
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "total": {"type": "integer", "minimum": 0},
            },
        },
    ],
}

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details that are also HAL (docs/errors.md).",
    "required": ["type", "title", "status", "@event", "@type", "user_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "@event": {"type": "string", "pattern": "^[A-Z0-9_]+$"},
        "@type": {"const": "error"},
        "errors": {
            "type": "object",
            "description": "Messages per field: a list, or an object per nested field or item index.",
            "additionalProperties": {"type": ["array", "object"]},
        },
        "user_id": {"type": ["integer", "string"]},
        "_links": {"type": "object", "additionalProperties": LINK_OR_LINKS},
    },
}

COMPONENT_SCHEMAS = {
    "Link": LINK,
    "HalResource": HAL_RESOURCE,
    "HalFormsTemplate": HAL_FORMS_TEMPLATE,
    "CollectionPage": PAGE,
    "Problem": PROBLEM_SCHEMA,
}

SECURITY_SCHEMES = {
    "basic": {"type": "http", "scheme": "basic", "description": "Email or username and password."},
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: `Authorization: Bearer hy_…`.",
    },
    "token": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "The same API token with the `Token` scheme: the header's whole value is `Token hy_…` "
        "(OpenAPI has no http scheme named Token; see docs/openapi.md).",
    },
}


def hal_content(schema=None):
    """Response content for a HAL resource in every JSON media type, plus the HTML page."""
    schema = schema or ref("HalResource")
    content = {media: {"schema": schema} for media in MEDIA_HAL}
    content[HTML] = {"schema": {"type": "string"}}
    return content


def problem_content():
    return {PROBLEM: {"schema": ref("Problem")}, HTML: {"schema": {"type": "string"}}}
