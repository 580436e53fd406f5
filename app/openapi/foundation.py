"""OpenAPI metadata of the foundation's endpoints (root, relations, problems, health, jobs).

Declared here with ``describe()`` so the foundation's view modules stay as they are;
a domain annotates its own views with ``@api_doc`` or calls ``describe`` from its ``init_app``.
"""

from marshmallow import Schema, fields

from app.openapi.helpers import page
from app.openapi.registry import describe
from app.resources.health.views import probe_schema
from app.resources.jobs.views import jobs_collection


class EntryPointSchema(Schema):
    title = fields.String()
    version = fields.String()


class HealthSchema(Schema):
    up = fields.Boolean(required=True)
    result = fields.Dict(required=True)


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


describe("root.index", auth="optional", tags=["meta"], responses={200: EntryPointSchema})
describe("root.rels", auth="none", tags=["meta"])
describe("root.rel", auth="none", tags=["meta"])
describe("root.problem", auth="none", tags=["meta"])
describe(
    "health.get",
    auth="optional",
    responses={200: HealthSchema, 503: HealthSchema},
    description="Needs credentials unless HALYARD_HEALTH_PUBLIC; 503 (same body) when the database or Redis "
    "is down; workers are reported, not required.",
)
describe(
    "health.live", auth="none", responses={200: HealthSchema}, description="Liveness: the process answers."
)
describe(
    "health.ready",
    auth="none",
    responses={200: HealthSchema},
    errors=(503,),
    description="Readiness: the database and Redis answer; 503 problem+json otherwise.",
)
describe("health.probe", auth="admin", request=probe_schema, responses={202: JobSchema})
describe(
    "jobs.index",
    collection=jobs_collection,
    responses={200: page(JobSchema, "The caller's jobs (ADMINs: all)")},
    description="`id=<id>` returns that single job, not a page.",
)
describe("jobs.get", responses={200: JobSchema})
