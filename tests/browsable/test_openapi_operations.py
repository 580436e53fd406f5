"""The operations of /openapi.json stay what they were when their declarations moved onto the views.

``openapi_operations.json`` was captured from the document before the move (the per-domain ``openapi.py``
files declared every operation by endpoint name): per path and method, the ``operationId``, the request
body's media types, and per status the media types with, for the HAL (``application/hal+json``) and the
seed-native (``application/json``) body, the schema's component name (or a hash of an inline schema).
The document built from the views' ``@api_doc`` must match it for every captured operation, but for
the changes listed in CHANGED, each made on purpose after the capture; operations added since may join.
"""

import hashlib
import json
import os

import pytest

from app.openapi.generate import build_spec

HERE = os.path.dirname(os.path.abspath(__file__))
PROBLEM = ["application/problem+json", "text/html"]

# Changes to the captured operations since, on purpose: {"METHOD /path": {status: summary or None (gone)}}.
CHANGED: dict[str, dict[str, object]] = {}


def summarize(spec):
    """The captured summary of an OpenAPI document (as in the fixture)."""

    def shape(schema):
        if "$ref" in schema:
            return schema["$ref"].rsplit("/", 1)[-1]
        return "#" + hashlib.sha1(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:8]

    out = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            responses = {}
            for status, response in op["responses"].items():
                content = response.get("content") or {}
                if sorted(content) == PROBLEM:
                    responses[status] = "problem"
                    continue
                responses[status] = {
                    media: shape(c.get("schema", {}))
                    if media in ("application/hal+json", "application/json")
                    else ""
                    for media, c in content.items()
                }
            out[f"{method.upper()} {path}"] = {
                "operationId": op["operationId"],
                "requestBody": sorted(op.get("requestBody", {}).get("content", {})),
                "responses": responses,
            }
    return out


@pytest.mark.fresh_app
def test_every_operation_keeps_its_id_statuses_and_bodies(app):
    with open(os.path.join(HERE, "openapi_operations.json")) as f:
        before = json.load(f)
    for key, changes in CHANGED.items():
        for status, summary in changes.items():
            if summary is None:
                before[key]["responses"].pop(status)
            else:
                before[key]["responses"][status] = summary
    after = summarize(build_spec(app, "http://localhost"))
    # every captured operation is still there (routes added since, by other changes, may join it)
    assert not set(before) - set(after), sorted(set(before) - set(after))
    for key in before:
        assert after[key] == before[key], key
