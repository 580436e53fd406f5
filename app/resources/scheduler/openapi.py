"""Shared OpenAPI schemas of the scheduler (seed 003): the bodies of schedules, deliveries, failed
tasks and metrics that its views' ``@api_doc`` declarations name (docs/openapi.md)."""

from marshmallow import Schema, fields, validate

from app.openapi.helpers import HalSchema
from app.resources.scheduler.models import OUTCOMES
from app.resources.scheduler.schemas import ScheduleSchema

PROMETHEUS = "text/plain"


# --- request bodies -------------------------------------------------------------------------------


class ScheduleCreateSchema(ScheduleSchema):
    """POST /api/v1/schedule/: ScheduleSchema, with the seed's alias documented."""

    inteval_definition = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"description": "Seed 003's misspelling, accepted as interval_definition (not both)."},
    )


class ScheduleChangeSchema(ScheduleCreateSchema):
    """PUT /api/v1/schedule/{id}/: any subset of the fields (``partial``); endpoint too is optional."""

    endpoint = fields.String(validate=validate.Length(min=1, max=2000), metadata={"prompt": "URL to POST to"})


# --- response bodies ------------------------------------------------------------------------------


class ScheduleViewSchema(HalSchema):
    id = fields.UUID(required=True)
    frequency = fields.Integer(required=True, allow_none=True, metadata={"description": "Cap on sends."})
    endpoint = fields.String(required=True)
    cron_definition = fields.String(required=True, allow_none=True)
    interval_definition = fields.String(required=True, allow_none=True)
    has_auth_token = fields.Boolean(
        required=True, metadata={"description": "auth_token itself is write-only."}
    )
    payload = fields.Raw(
        required=True, allow_none=True, metadata={"description": "The JSON POSTed each run."}
    )
    enabled = fields.Boolean(required=True)
    next_send_at = fields.DateTime(required=True, allow_none=True)
    last_run = fields.DateTime(required=True, allow_none=True)
    triggered = fields.Integer(required=True, validate=validate.Range(min=0))
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    created_by = fields.Integer(required=True, allow_none=True)
    updated_by = fields.Integer(required=True, allow_none=True)


class ScheduleCreatedSchema(ScheduleViewSchema):
    signing_secret = fields.String(
        required=True,
        metadata={
            "description": "whsec_…: signs every delivery (Halyard-Signature); shown only in this response."
        },
    )


class DeliveryViewSchema(HalSchema):
    id = fields.Integer(required=True)
    run_id = fields.UUID(required=True)
    attempt = fields.Integer(required=True)
    due_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(required=True)
    status_code = fields.Integer(required=True, allow_none=True)
    duration_ms = fields.Integer(required=True, allow_none=True)
    response_excerpt = fields.String(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))


class FailedTaskViewSchema(HalSchema):
    id = fields.UUID(required=True)
    schedule = fields.UUID(required=True)
    run_id = fields.UUID(required=True)
    task_name = fields.String(required=True)
    attempts = fields.Integer(required=True)
    reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class RequeuedSchema(Schema):
    requeued_failed_tasks = fields.Boolean(required=True, validate=validate.Equal(True))
    count = fields.Integer(required=True, validate=validate.Range(min=0))


class MetricsSnapshotSchema(Schema):
    taken_at = fields.String(required=True, allow_none=True)
    values = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class MetricsViewSchema(Schema):
    metrics_available = fields.List(fields.String(), required=True)
    metrics = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "ADMINs only: the values."}
    )
    snapshot = fields.Nested(
        MetricsSnapshotSchema,
        allow_none=True,
        metadata={"description": "ADMINs only: the last snapshot stored by POST (null: none yet)."},
    )


class MetricsInitiatedSchema(Schema):
    scheduled_metrics_initiated = fields.Boolean(required=True, validate=validate.Equal(True))


# --- operations -----------------------------------------------------------------------------------

DEFINITIONS_TEXT = (
    "Exactly one of cron_definition and interval_definition; an invalid one, an endpoint the outbound "
    "policy refuses or an unknown field is 400 naming it."
)
