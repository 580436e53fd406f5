"""Content negotiation and rendering."""

import json

import pytest
from werkzeug.exceptions import NotAcceptable as WerkzeugNotAcceptable

from app.hal import (
    HAL_FORMS,
    HAL_JSON,
    HTML,
    JSON,
    VND_HAL_JSON,
    NotAcceptable,
    negotiate,
    render,
    set_html_renderer,
)


@pytest.mark.parametrize(
    "accept, expected",
    [
        (None, HAL_JSON),
        ("", HAL_JSON),
        ("*/*", HAL_JSON),
        ("application/*", HAL_JSON),
        ("text/*", HTML),
        ("application/hal+json", HAL_JSON),
        ("application/vnd.hal+json", VND_HAL_JSON),
        ("application/prs.hal-forms+json", HAL_FORMS),
        ("application/json", JSON),
        ("APPLICATION/JSON; charset=utf-8", JSON),
        ("text/html", HTML),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", HTML),
        ("application/prs.hal-forms+json, application/hal+json;q=0.9, */*;q=0.5", HAL_FORMS),
        ("application/json;q=0.5, application/hal+json;q=0.4", JSON),
        ("application/hal+json;q=0.2, text/html;q=0.9", HTML),
        ("application/hal+json;q=0, */*", VND_HAL_JSON),
        ("application/hal+json;q=0, application/vnd.hal+json;q=0, application/*;q=0.5", HAL_FORMS),
        ("text/html;q=0, */*;q=0.1", HAL_JSON),
        ("image/png, */*;q=0.1", HAL_JSON),
        ("application/xml, text/*;q=0.3", HTML),
    ],
)
def test_negotiate(accept, expected):
    assert negotiate(accept) == expected


@pytest.mark.parametrize(
    "accept",
    [
        "application/xml",
        "image/png, text/plain",
        "application/problem+json",
        "*/*;q=0",
        "text/html;q=0",
        "garbage",
    ],
)
def test_unacceptable(accept):
    with pytest.raises(NotAcceptable) as info:
        negotiate(accept)
    assert isinstance(info.value, WerkzeugNotAcceptable) and info.value.code == 406
    assert info.value.event == "NOT_ACCEPTABLE"
    assert HAL_JSON in info.value.description and HTML in info.value.description


def test_negotiate_with_custom_offer():
    assert negotiate("*/*", offered=(JSON, HTML)) == JSON


DOC = {
    "title": "Café <b>",
    "_links": {
        "self": {"href": "http://x/a?b=1&c=2"},
        "find": {"href": "http://x/a{?q}", "templated": True},
        "bad": {"href": "javascript:alert(1)"},
    },
}


@pytest.mark.parametrize("media_type", [HAL_JSON, VND_HAL_JSON, HAL_FORMS, JSON])
def test_render_json(flask_app, media_type):
    with flask_app.app_context():
        response = render(DOC, media_type, status=201, headers={"Location": "http://x/a"})
    assert response.status_code == 201
    assert response.headers["Content-Type"] == media_type
    assert response.headers["Location"] == "http://x/a"
    assert "Accept" in response.headers["Vary"]
    body = response.get_data()
    assert "Café".encode() in body and b": " not in body
    assert json.loads(body) == DOC


def test_render_serialises_stray_types(flask_app):
    import uuid
    from datetime import datetime

    with flask_app.app_context():
        response = render({"at": datetime(2026, 1, 1), "id": uuid.UUID(int=1)}, HAL_JSON)
    assert json.loads(response.get_data()) == {"at": "2026-01-01T00:00:00", "id": str(uuid.UUID(int=1))}


def test_encode_json_writes_what_the_standard_library_writes_and_takes_what_orjson_refuses():
    """orjson encodes; the bytes are the standard library's compact UTF-8 (the ETag hashes them), and what
    orjson refuses (an integer past 64 bits) still encodes, through the standard library's encoder."""
    import uuid
    from dataclasses import dataclass
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from app.hal.negotiation import encode_json

    doc = {
        "text": "Café </script> \u2028 \U0001f600",
        "n": [0, -1, 2**63 - 1, 1.5, 0.1, 2e16, None, True, False],
        "when": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "naive": datetime(2026, 1, 2),
        "day": date(2026, 1, 2),
        "id": uuid.UUID(int=7),
        "price": Decimal("1.10"),
        1: "a non-string key",
        "nested": {"list": [{"a": []}], "empty": {}},
    }

    def stray(value):  # what the standard library is given for the types JSON lacks
        return value.isoformat() if isinstance(value, date) else str(value)

    assert (
        encode_json(doc) == json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=stray).encode()
    )
    big = {"big": 2**70, "small": -(2**64)}
    assert encode_json(big) == b'{"big":1180591620717411303424,"small":-18446744073709551616}'

    @dataclass
    class NotJson:
        x: int

    with pytest.raises(TypeError):  # as before: a stray object is a bug, not silently serialised
        encode_json({"x": NotJson(1)})


def test_render_default_html(flask_app):
    with flask_app.app_context():
        response = render(DOC, HTML)
    page = response.get_data(as_text=True)
    assert response.mimetype == HTML and "Accept" in response.headers["Vary"]
    assert "<b>" not in page and "Café &lt;b&gt;" in page
    assert '<a href="http://x/a?b=1&amp;c=2">' in page
    assert '<a href="http://x/a">' in page  # templated href links to its unexpanded form
    assert 'href="javascript' not in page


def test_pluggable_html_renderer(flask_app):
    set_html_renderer(lambda doc, status: f"<p>{status} {len(doc)}</p>")
    try:
        with flask_app.app_context():
            assert render(DOC, HTML, status=404).get_data(as_text=True) == "<p>404 2</p>"
    finally:
        set_html_renderer(None)
    with flask_app.app_context():
        assert "<pre>" in render(DOC, HTML).get_data(as_text=True)


@pytest.mark.parametrize(
    "accept, expected",
    [
        # application/* is more specific than */*, so its low q wins for the application types
        ("application/*;q=0.1, */*;q=0.9", HTML),
        # among equally specific ranges the highest q counts, whatever their order
        ("application/hal+json;q=0.8, application/hal+json;q=0.2, text/html;q=0.5", HAL_JSON),
        ("application/hal+json;q=0.2, application/hal+json;q=0.8, text/html;q=0.5", HAL_JSON),
        # an exact range beats its type wildcard, in either direction
        ("text/*;q=0.9, text/html;q=0.1, application/hal+json;q=0.5", HAL_JSON),
        ("text/*;q=0.1, text/html;q=0.9, application/hal+json;q=0.5", HTML),
    ],
)
def test_the_most_specific_range_decides(accept, expected):
    assert negotiate(accept) == expected
