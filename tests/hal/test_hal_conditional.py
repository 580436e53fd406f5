"""ETags, 304 Not Modified, 412 and 428."""

import pytest
from flask import Response
from werkzeug.exceptions import PreconditionFailed as WPreconditionFailed
from werkzeug.exceptions import PreconditionRequired as WPreconditionRequired

from app.hal import (
    HAL_FORMS,
    HAL_JSON,
    HTML,
    JSON,
    VND_HAL_JSON,
    PreconditionFailed,
    PreconditionRequired,
    check_if_match,
    etag_for,
    make_conditional,
    representation_suffix,
)

TAG = etag_for({"a": 1, "b": [1, 2]})


def test_etag_for_is_canonical_and_short():
    assert etag_for({"b": [1, 2], "a": 1}) == TAG
    assert len(TAG) == 32 and all(c in "0123456789abcdef" for c in TAG)
    assert etag_for("x") == etag_for(b"x") != etag_for("y")
    assert etag_for({"a": 2, "b": [1, 2]}) != TAG


@pytest.mark.parametrize(
    "media_type, suffix",
    [
        (HAL_JSON, ""),
        (VND_HAL_JSON, ""),
        (JSON, ""),
        (HAL_FORMS, "-f"),
        (HTML, "-h"),
        ("text/html; charset=utf-8", "-h"),
    ],
)
def test_representation_suffix(media_type, suffix):
    assert representation_suffix(media_type) == suffix


def conditional(flask_app, method="GET", headers=None, suffix="", status=200):
    with flask_app.test_request_context("/", method=method, headers=headers or {}):
        response = Response(b'{"a":1}', status=status, content_type=HAL_JSON)
        response.vary.add("Accept")
        return make_conditional(response, TAG, suffix=suffix)


def test_sets_strong_etag(flask_app):
    response = conditional(flask_app)
    assert response.status_code == 200 and response.headers["ETag"] == f'"{TAG}"'
    assert conditional(flask_app, suffix="-f").headers["ETag"] == f'"{TAG}-f"'


@pytest.mark.parametrize(
    "if_none_match",
    [f'"{TAG}"', f'"other", "{TAG}"', "*", f'W/"{TAG}"', f'"x",W/"{TAG}"'],
)
def test_if_none_match_gives_304(flask_app, if_none_match):
    response = conditional(flask_app, headers={"If-None-Match": if_none_match})
    assert response.status_code == 304 and response.get_data() == b""
    assert response.headers["ETag"] == f'"{TAG}"' and response.headers["Vary"] == "Accept"
    assert "Content-Type" not in response.headers


def test_head_also_gets_304(flask_app):
    assert conditional(flask_app, "HEAD", {"If-None-Match": f'"{TAG}"'}).status_code == 304


@pytest.mark.parametrize("if_none_match", ['"other"', f'"{TAG}-f"', f'"{TAG[:-1]}"'])
def test_if_none_match_mismatch_gives_200(flask_app, if_none_match):
    response = conditional(flask_app, headers={"If-None-Match": if_none_match})
    assert response.status_code == 200 and response.get_data() == b'{"a":1}'


def test_if_none_match_compares_with_suffix(flask_app):
    assert conditional(flask_app, headers={"If-None-Match": f'"{TAG}-f"'}, suffix="-f").status_code == 304
    assert conditional(flask_app, headers={"If-None-Match": f'"{TAG}"'}, suffix="-h").status_code == 200


def test_no_304_for_unsafe_methods_or_errors(flask_app):
    assert conditional(flask_app, "PUT", {"If-None-Match": f'"{TAG}"'}).status_code == 200
    assert conditional(flask_app, headers={"If-None-Match": "*"}, status=404).status_code == 404


def if_match(flask_app, current, header=None, method="PUT", required=False):
    headers = {"If-Match": header} if header is not None else {}
    with flask_app.test_request_context("/", method=method, headers=headers):
        check_if_match(current, required=required)


@pytest.mark.parametrize(
    "header",
    [f'"{TAG}"', f'"{TAG}-f"', f'"{TAG}-h"', f'"old", "{TAG}"', "*"],
)
def test_if_match_passes(flask_app, header):
    assert if_match(flask_app, TAG, header) is None
    if header != "*":  # the same header against another current tag is refused: the check did compare
        with pytest.raises(PreconditionFailed):
            if_match(flask_app, "other", header)


@pytest.mark.parametrize("header", ['"old"', f'W/"{TAG}"', f'"{TAG}-x"', f'"{TAG}-f-f"'])
def test_stale_if_match_gives_412(flask_app, header):
    with pytest.raises(PreconditionFailed) as info:
        if_match(flask_app, TAG, header)
    assert isinstance(info.value, WPreconditionFailed) and info.value.code == 412
    assert info.value.event == "PRECONDITION_FAILED"
    assert info.value.description == "The resource has changed: If-Match does not match its current ETag."


def test_if_match_on_missing_resource_gives_412(flask_app):
    for header in ("*", f'"{TAG}"'):
        with pytest.raises(PreconditionFailed):
            if_match(flask_app, None, header, method="DELETE")


def test_missing_if_match(flask_app):
    assert if_match(flask_app, TAG) is None
    with pytest.raises(PreconditionRequired) as info:
        if_match(flask_app, TAG, required=True, method="PATCH")
    assert isinstance(info.value, WPreconditionRequired) and info.value.code == 428
    assert info.value.event == "PRECONDITION_REQUIRED"
    assert info.value.description == "This request must be conditional: send If-Match with the ETag."


def test_safe_methods_are_not_checked(flask_app):
    assert if_match(flask_app, TAG, '"old"', method="GET") is None
    assert if_match(flask_app, TAG, required=True, method="GET") is None
    # the same headers on a write are checked
    with pytest.raises(PreconditionFailed):
        if_match(flask_app, TAG, '"old"', method="PUT")
    with pytest.raises(PreconditionRequired):
        if_match(flask_app, TAG, required=True, method="PUT")
