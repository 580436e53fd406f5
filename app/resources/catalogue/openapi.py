"""Shared OpenAPI schemas of the catalogue items (seed 000): the request and response bodies its views'
``@api_doc`` declarations name (docs/openapi.md)."""

from marshmallow import fields, validate

from app.openapi.helpers import HalSchema, event, type_const, with_event
from app.openapi.schemas import HTML, MEDIA_HAL
from app.resources.catalogue.models import EXECUTOR_TYPES
from app.resources.catalogue.schemas import CatalogueItemSchema
from app.resources.catalogue.spec import SPEC_SCHEMA

SPEC = {k: v for k, v in SPEC_SCHEMA.items() if k != "$schema"}
SPEC["items"] = {
    k: v for k, v in SPEC["items"].items() if k != "allOf"
}  # the per-type value rules stay prose
SPEC_METADATA = {
    "description": "The columns: [{name, type (INTEGER|FLOAT|STRING|BOOLEAN|DATETIME), is_nullable, is_enum, "
    "size, distribution [{value, count}] (values of the column's type), description}]; column "
    "names and distribution values unique.",
    **SPEC,
}
SAMPLE_METADATA = {
    "description": "Example rows: objects of spec's column names with values of their types (null only for "
    "nullable columns).",
    "type": "array",
    "items": {"type": "object"},
}


class CatalogueItemBodySchema(CatalogueItemSchema):
    """POST/PUT /catalogue/items/: CatalogueItemSchema with spec and sample described as JSON Schema."""

    spec = fields.Raw(required=True, metadata=SPEC_METADATA)
    sample = fields.Raw(load_default=list, metadata=SAMPLE_METADATA)


class CatalogueAccountSchema(HalSchema):
    """Seed 000's embedded account (a property value, with its own _links.self)."""

    type_ = type_const("account")
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "ADMIN or RESEARCHER."})


def account_field(description):
    return fields.Nested(
        CatalogueAccountSchema, required=True, allow_none=True, metadata={"description": description}
    )


class CatalogueItemViewSchema(HalSchema):
    """``@type: catalogue_item`` as seed 000 shows it; embedded as-is in pages and download requests."""

    type_ = type_const("catalogue_item")
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    executor_type = fields.String(required=True, validate=validate.OneOf(EXECUTOR_TYPES))
    spec = fields.Raw(required=True, metadata=SPEC_METADATA)
    sample = fields.Raw(required=True, metadata=SAMPLE_METADATA)
    has_samples = fields.Boolean(required=True)
    datasource_id = fields.Integer(required=True, allow_none=True)
    created_by = account_field("Who created the item.")
    updated_by = account_field("Who last changed the item.")
    maintained_by = account_field("Who maintains the data set.")


CatalogueItemRead = with_event(CatalogueItemViewSchema, "CatalogueItemReadSchema", "CATALOGUEITEM_READ")
CatalogueItemCreated = with_event(
    CatalogueItemViewSchema, "CatalogueItemCreatedSchema", "CATALOGUEITEM_CREATED"
)
CatalogueItemUpdated = with_event(
    CatalogueItemViewSchema, "CatalogueItemUpdatedSchema", "CATALOGUEITEM_UPDATED"
)
CatalogueItemSpecComputed = with_event(
    CatalogueItemViewSchema, "CatalogueItemSpecComputedSchema", "CATALOGUEITEM_SPEC_COMPUTED"
)

# the page's own seed 000 members (its items have none)
PAGE_MEMBERS = {"event": event("CATALOGUEITEMS_BULK_READ"), "type_": type_const("catalogue_items_list")}


def empty_response(event, description):
    """Seed 000's ``{"@event": event, "@type": "empty"}`` (a collection link, no self): not a resource."""
    return {
        "description": description,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "required": ["@event", "@type"],
                    "properties": {
                        "@event": {"const": event},
                        "@type": {"const": "empty"},
                        "_links": {"type": "object"},
                    },
                }
            }
            for media in MEDIA_HAL
        }
        | {HTML: {"schema": {"type": "string"}}},
    }


QUERY = {
    "name": "query",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "maxLength": 500},
    "description": "Words matched in item names, case-insensitive ('' matches every item): `a b` = a OR b, "
    "`a & b`, `a | b`, `a ~ b` (a AND NOT b), left to right. Missing or repeated: 400 naming query.",
}
