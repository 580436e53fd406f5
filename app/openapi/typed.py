"""Helpers for domains' OpenAPI declarations: a collection page whose items are typed, and a file body.

``describe(..., collection=c)`` alone documents a page as the generic ``CollectionPage``; with
``responses={200: page_response(c, ItemSchema)}`` the page's ``_embedded`` array (and the single item
an id lookup answers) refer to ``<Item>Resource``, the component the generator makes for a response
schema. That component exists once some operation declares ``responses={...: ItemSchema}`` (the
item's own GET, typically); openapi-spec-validator fails on a dangling reference.
"""

from app.openapi.schemas import hal_content, ref


def resource_component(schema):
    """The generator's component name for a response schema (app/openapi/generate.py ``schema_ref``)."""
    cls = schema if isinstance(schema, type) else type(schema)
    return (cls.__name__.removesuffix("Schema") or cls.__name__) + "Resource"


def page_response(collection, item_schema, description="One page of the collection"):
    """The 200 response of a collection GET: a page with typed items, or the one item ``<id>=x`` selects."""
    item = ref(resource_component(item_schema))
    page = {
        "allOf": [
            ref("CollectionPage"),
            {
                "type": "object",
                "properties": {
                    "_embedded": {
                        "type": "object",
                        "required": [collection.item_rel],
                        "properties": {collection.item_rel: {"type": "array", "items": item}},
                    }
                },
            },
        ]
    }
    schema = {"anyOf": [page, item]} if collection.id_field else page
    return {
        "description": description
        + (f"; `{collection.id_field}=x` answers that one item." if collection.id_field else "."),
        "headers": {"ETag": {"schema": {"type": "string"}, "description": "Strong entity tag."}},
        "content": hal_content(schema),
    }


def binary_response(description, headers=None):
    """A response carrying stored bytes in their own media type."""
    response = {
        "description": description,
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def html_response(description):
    """A response that is only an HTML page (a domain's own page, not a rendered HAL document)."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}
