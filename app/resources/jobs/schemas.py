"""The job resource's body as the OpenAPI description types it (the 202 answer of every job-starting POST)."""

from marshmallow import Schema, fields


class JobSchema(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    progress = fields.Dict()
    created = fields.String(allow_none=True)
    enqueued = fields.String(allow_none=True)
    started = fields.String(allow_none=True)
    ended = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
