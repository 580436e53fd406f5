"""Schemathesis against GET /openapi.json on a live server: no 5xx, documented statuses, media types and
schemas, and every error body problem+json. Bounded: a fixed number of derandomized examples per operation.
"""

import os
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from browsable_live import wait_until_healthy  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: widgets registers routes
EXAMPLES = int(os.environ.get("HALYARD_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def config_overrides():
    # The fuzzer starts probe jobs of up to 100 s; a short timeout keeps the worker (and teardown) quick.
    return {"HALYARD_JOB_TIMEOUT_SECONDS": 2}


def check_case(case, live, accept=None):
    """Call one generated case and apply every check; raise on the first failure."""
    headers = {**live.auth, **({"Accept": accept} if accept else {})}
    response = case.call(headers=headers, timeout=10)
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        media = response.headers.get("Content-Type", response.headers.get("content-type", [""]))
        media = media[0] if isinstance(media, list) else media
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
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case):
            check_case(case, live, accept)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collect every operation's failure
            # (schemathesis' FailureGroup is a BaseExceptionGroup: ``except Exception`` let the first escape)
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:2000]}")
    assert operations >= 12
    assert not failures, "\n\n".join(failures)
