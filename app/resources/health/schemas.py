"""The health resources' body (seed 003: ``up`` and ``result``) as the OpenAPI description types it."""

from marshmallow import Schema, fields


class HealthSchema(Schema):
    up = fields.Boolean(required=True)
    result = fields.Dict(required=True)
