"""The body of POST/PUT /catalogue/items/: seed 000's fields, spec and sample checked by JSON Schema."""

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.errors import BodyJsonDidNotParse
from app.inputs import INT32
from app.representation import load_body
from app.resources.catalogue.models import EXECUTOR_TYPES
from app.resources.catalogue.spec import validate_sample, validate_spec


class CatalogueItemSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    executor_type = fields.String(required=True, validate=validate.OneOf(EXECUTOR_TYPES))
    spec = fields.Raw(
        required=True,
        metadata={"title": "Columns: [{name, type, is_nullable, is_enum, size, distribution, description}]"},
    )
    sample = fields.Raw(load_default=list, metadata={"title": "Example rows: [{column: value}]"})
    maintained_by_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=INT32)
    datasource_id = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=INT32,
        metadata={"title": "The data source whose table this item describes"},
    )

    @validates("spec")
    def _spec(self, value, **kwargs):
        problems = validate_spec(value)
        if problems:
            raise ValidationError(problems)

    @validates_schema
    def _sample(self, data, **kwargs):
        problems = validate_sample(data.get("sample", []), data["spec"])
        if problems:
            raise ValidationError(problems, "sample")


catalogue_item_schema = CatalogueItemSchema()


def load_seed_body(schema):
    """``load_body`` as seed 000 answers it: a request without any body is 400 BODY_JSON_DID_NOT_PARSE
    (seed 000's example sends no Content-Type either), not 415."""
    from flask import request

    if not request.get_data(cache=True):
        raise BodyJsonDidNotParse("The request has no body; send a JSON object.")
    return load_body(schema)
