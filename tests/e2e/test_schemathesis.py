"""Schemathesis against GET /openapi.json on a live server: no 5xx, documented statuses, media types and
schemas, and every error body problem+json. Bounded: a fixed number of derandomized examples per operation.
"""

import os
import sys

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from browsable_live import wait_until_healthy  # noqa: E402

from app.inputs import UNSTORABLE  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: widgets registers routes
EXAMPLES = int(os.environ.get("HALYARD_SCHEMATHESIS_EXAMPLES", "12"))
# per operation and generation mode in test_the_description_says_what_is_refused (kept under ~2 minutes)
TRUTH_EXAMPLES = int(os.environ.get("HALYARD_SCHEMATHESIS_TRUTH_EXAMPLES", "2"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def bounded(examples):
    """Hypothesis settings of every run here: ``examples`` derandomized cases, explicit then generated."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )


@pytest.fixture
def config_overrides():
    # The fuzzer starts probe jobs of up to 100 s; a short timeout keeps the worker (and teardown) quick.
    return {"HALYARD_JOB_TIMEOUT_SECONDS": 2}


def media_type(response):
    """The response's Content-Type (schemathesis' responses keep each header as a list, lower-cased)."""
    media = response.headers.get("Content-Type", response.headers.get("content-type", [""]))
    return media[0] if isinstance(media, list) else media


def check_case(case, live, accept=None):
    """Call one generated case and apply every check; raise on the first failure."""
    headers = {**live.auth, **({"Accept": accept} if accept else {})}
    response = case.call(headers=headers, timeout=10)
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        media = media_type(response)
        # An HTML error page is documented for every operation (browsers get problems as pages, and a
        # domain's own HTML views, e.g. the device sign-in UI, answer in HTML); anything else is a problem.
        if not media.startswith("text/html"):
            assert media == "application/problem+json", (response.status_code, media)
            body = response.json()
            assert body["status"] == response.status_code and body["@type"] == "error" and body["@event"]


# Both representations (docs/seed-native.md): requests' default ``Accept: */*`` gets seed-native JSON on the
# seed 000-003 paths, validated against their application/json schemas; then the HAL graph everywhere.
@pytest.mark.parametrize("accept", [None, "application/hal+json"], ids=["native", "hal"])
def test_api_conforms_to_its_openapi_description(live, worker_process, accept):
    worker_process()  # a real worker, so /api/health/ is up (200) rather than its documented 503
    wait_until_healthy(live)
    # Driven with Hypothesis directly: schemathesis' pytest plugin does not load under this pytest.
    schema = schemathesis.openapi.from_url(live.base + "/openapi.json")
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(operation.as_strategy())
        @bounded(EXAMPLES)
        def run(case):
            check_case(case, live, accept)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collect every operation's failure
            # (schemathesis' FailureGroup is a BaseExceptionGroup: ``except Exception`` let the first escape)
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:2000]}")
    assert operations >= 12
    assert not failures, "\n\n".join(failures)


# Rules no JSON Schema can state, each a 400 naming its field (``errors``) for data the description calls
# valid: an id of another resource that must exist, a name already taken, a wrong current password, a
# JSON Schema document that must be one, an endpoint the outbound policy must allow, an OIDC state the
# server issued, a crontab or interval, a signed cursor (every collection with cursor paging: only links
# carry good ones). The OIDC callback answers its 400 as an HTML page (a person's browser lands there).
SEMANTIC = {
    "GET /accounts/auth_requests/oidc/callback/": {"state", "code"},
    "POST /api/v1/actions/": {"schema"},
    "POST /catalogue/items/": {"name", "datasource_id", "maintained_by_id"},
    "PUT /catalogue/items/{item_id}": {"name", "datasource_id", "maintained_by_id"},
    "POST /api/v1/datasources": {"project", "url"},
    "PUT /api/v1/datasources/{source_id}": {"url"},
    "POST /api/v1/objects/": {"action_id", "data", "members"},
    "PUT /api/v1/objects/{object_id}": {"action_id", "data", "members"},
    "POST /api/v1/projects/": {"members"},
    "PUT /api/v1/projects/{project_id}": {"members"},
    "POST /api/v1/schedule/": {"endpoint", "cron_definition", "interval_definition", "inteval_definition"},
    "PUT /api/v1/schedule/{schedule_id}/": {"endpoint", "cron_definition", "interval_definition"},
    "POST /api/v1/user/{user_id}/password/": {"current_password"},
}
CURSOR = {"cursor"}
HTML_PAGES = {"GET /accounts/auth_requests/oidc/callback/"}
# Messages JSON Schema cannot rule out: 1.0 is an integer to JSON Schema, not to a strict marshmallow
# Integer; a NUL deep inside a free-form JSON value (the description's 400 says it in prose).
INEXPRESSIBLE = {"Not a valid integer.", UNSTORABLE}


def _errors(node, path=()):
    """(field path, message) of every message in a problem's ``errors`` (nested for nested fields)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _errors(value, (*path, str(key)))
    elif isinstance(node, list) and all(isinstance(m, str) for m in node):
        for message in node:
            yield path, message
    else:
        yield path, repr(node)


def allowed_rejection(operation, response):
    """Whether a 400 to schema-valid data names only rules the description cannot state (above)."""
    if response.status_code != 400:
        return False
    if operation.label in HTML_PAGES and media_type(response).startswith("text/html"):
        return True
    try:
        errors = list(_errors(response.json().get("errors") or {}))
    except ValueError:
        return False
    fields = SEMANTIC.get(operation.label, set()) | CURSOR
    return bool(errors) and all(path[:1] and path[0] in fields or m in INEXPRESSIBLE for path, m in errors)


def test_the_description_says_what_is_refused(live, worker_process):
    """Valid data (by the description) is accepted and invalid data refused: schemathesis' ST202 and ST201
    checks over every operation, positive and negative cases (HALYARD_SCHEMATHESIS_TRUTH_EXAMPLES each)."""
    from schemathesis import GenerationMode
    from schemathesis.checks import negative_data_rejection, positive_data_acceptance
    from schemathesis.core.failures import FailureGroup

    worker_process()
    wait_until_healthy(live)
    schema = schemathesis.openapi.from_url(live.base + "/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(operation.as_strategy(generation_mode=mode))
            @bounded(TRUTH_EXAMPLES)
            def run(case):
                headers = {**live.auth, "Accept": "application/hal+json"}
                response = case.call(headers=headers, timeout=10)
                try:
                    case.validate_response(
                        response,
                        checks=[not_a_server_error, positive_data_acceptance, negative_data_rejection],
                    )
                except (AssertionError, FailureGroup):
                    if not allowed_rejection(case.operation, response):
                        raise

            try:
                run()
            except Unsatisfiable:  # nothing to send that breaks the description (no parameters, no body)
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collect every operation's failure
                failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, f"{len(failures)} operations:\n\n" + "\n\n".join(failures)


def test_allow_lists_the_described_methods(live):
    """OPTIONS on every path without parameters answers ``Allow`` with exactly its described methods."""
    spec = requests.get(live.base + "/openapi.json", timeout=30).json()
    wrong = {}
    for path, operations in spec["paths"].items():
        if "{" in path:
            continue
        allow = requests.options(live.base + path, headers=live.auth, timeout=10).headers.get("Allow", "")
        described = {m.upper() for m in operations} | {"HEAD", "OPTIONS"} - (
            {"HEAD"} if "get" not in operations else set()
        )
        if {m.strip() for m in allow.split(",") if m.strip()} != described:
            wrong[path] = (allow, sorted(described))
    assert not wrong, wrong
