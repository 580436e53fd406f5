"""Marshmallow schemas of the scheduler: schedule bodies (create, update), requeue bodies."""

from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates

from app.inputs import int32
from app.outbound import OutboundError, check_url
from app.resources.scheduler.timing import DefinitionError, parse_interval, validate_cron


def check_endpoint(value):
    """An http(s) URL that the outbound policy allows (private targets only when allowlisted)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{value} is not a valid http(s) URL.")
    try:
        check_url(value)
    except OutboundError as exc:
        raise ValidationError(f"{value} is not allowed as an endpoint: {exc}") from None


class ScheduleSchema(Schema):
    """The writable properties of a schedule (POST; PUT loads it with ``partial=True``)."""

    frequency = fields.Integer(
        allow_none=True, validate=int32(1), metadata={"prompt": "Total number of sends (optional cap)"}
    )
    endpoint = fields.String(
        required=True, validate=validate.Length(min=1, max=2000), metadata={"prompt": "URL to POST to"}
    )
    cron_definition = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"prompt": "crontab: minute hour day month weekday [year]"},
    )
    interval_definition = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"prompt": "<int> <days|hours|minutes|seconds>"},
    )
    auth_token = fields.String(
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"prompt": "Sent as 'Authorization: Token <auth_token>' (write-only)", "secret": True},
    )
    payload = fields.Raw(allow_none=True, metadata={"prompt": "JSON payload to POST"})
    enabled = fields.Boolean(metadata={"prompt": "Enabled"})

    @pre_load
    def seed_alias(self, data, **kwargs):
        """Accept the seed's misspelt ``inteval_definition`` as ``interval_definition``."""
        if isinstance(data, dict) and "inteval_definition" in data:
            data = dict(data)
            value = data.pop("inteval_definition")
            if "interval_definition" in data:
                raise ValidationError(
                    {"inteval_definition": ["Send interval_definition or inteval_definition, not both."]}
                )
            data["interval_definition"] = value
        return data

    def handle_error(self, error, data, **kwargs):
        """Report an interval error under ``inteval_definition`` when the client sent that spelling."""
        messages = error.messages
        if isinstance(data, dict) and "inteval_definition" in data and isinstance(messages, dict):
            if "interval_definition" in messages:
                messages = dict(messages)
                messages["inteval_definition"] = messages.pop("interval_definition")
                raise ValidationError(messages) from None

    @validates("endpoint")
    def _endpoint(self, value, **kwargs):
        check_endpoint(value)

    @validates("cron_definition")
    def _cron(self, value, **kwargs):
        if value is not None:
            try:
                validate_cron(value)
            except DefinitionError as exc:
                raise ValidationError(str(exc)) from None

    @validates("interval_definition")
    def _interval(self, value, **kwargs):
        if value is not None:
            try:
                parse_interval(value)
            except DefinitionError as exc:
                raise ValidationError(str(exc)) from None


class RequeueSchema(Schema):
    """POST /api/v1/failed-tasks/: requeue these failed tasks (all visible ones when omitted)."""

    ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=1000))
    schedule = fields.UUID()


schedule_schema = ScheduleSchema()
requeue_schema = RequeueSchema()
