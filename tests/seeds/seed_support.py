"""Helpers of the seed replay tests: the seed documents (copied to tests/seeds/documents/) and a shape check
of a response body against the body a document prints."""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def document(seed):
    """The text of seed document ``seed`` ("002", ...)."""
    folder = os.path.join(HERE, "documents")
    (name,) = [n for n in os.listdir(folder) if n.startswith(f"{seed}_")]
    with open(os.path.join(folder, name), encoding="utf-8") as fh:
        return fh.read()


def squeeze(text):
    """``text`` without whitespace (to find a printed request or body in a document, however indented)."""
    return re.sub(r"\s+", "", text)


def assert_printed(doc, text):
    """The request or body replayed is printed in the document as the test sends it."""
    assert squeeze(text) in squeeze(doc), f"not in the document: {text!r}"


def assert_shape(actual, documented, path="$"):
    """``actual`` has the shape of the documented body: every documented key (extra keys allowed, as a
    seed client ignores them), the same JSON types (a documented null: any value), arrays item by item
    against the document's first item."""
    if documented is None:
        return
    if isinstance(documented, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        missing = sorted(set(documented) - set(actual))
        assert not missing, f"{path}: missing {missing} in {sorted(actual)}"
        for key, value in documented.items():
            assert_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        for i, item in enumerate(actual):
            if documented:
                assert_shape(item, documented[0], f"{path}[{i}]")
    elif isinstance(documented, bool):
        assert isinstance(actual, bool), f"{path}: expected a boolean, got {actual!r}"
    elif isinstance(documented, (int, float)):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), f"{path}: {actual!r}"
    else:
        assert isinstance(actual, type(documented)), (
            f"{path}: expected {type(documented).__name__}, {actual!r}"
        )


def native(response, status):
    """The JSON body of a seed-native response with ``status`` (Content-Type application/json)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    if status == 204:
        return None
    assert response.mimetype == "application/json", response.mimetype
    return response.get_json()


def problem(response, status, event=None):
    """The problem+json body of an error response (errors stay problem+json for seed clients)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    if event is not None:
        assert body["@event"] == event, body
    return body
