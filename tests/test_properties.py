"""Property-based tests (Hypothesis): no query string and no JSON body ever gives a 5xx.

Over every collection (random parameter names, operators and values: unicode, NUL, huge numbers, odd
dates, very long strings) and every route that takes a body (random JSON, JSON shaped like the route's
declared schema with wrong types and huge integers, deep nesting, NaN, bytes that are not JSON), read from
the URL map (tests/inputs_support.py), and download filters over the world's catalogue item (the place
where body values reach SQL). A 4xx must be problem+json.

Bounded and deterministic: the ``halyard-ci`` profile is derandomized (the same examples on every run)
with a fixed number of examples; ``HALYARD_HYPOTHESIS_PROFILE=halyard-explore`` draws new random examples
(10x as many; ``--hypothesis-seed=N`` repeats a run). A failure prints the falsifying example and a
``@reproduce_failure`` blob that replays it.
"""

import json
import os
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inputs_support import BODY_ROUTES, COLLECTIONS, WORDS, build_world, url_of
from marshmallow import fields

settings.register_profile(
    "halyard-ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
settings.register_profile("halyard-explore", parent=settings.get_profile("halyard-ci"), derandomize=False)
PROFILE = os.environ.get("HALYARD_HYPOTHESIS_PROFILE", "halyard-ci")
SCALE = 10 if PROFILE == "halyard-explore" else 1


def bounded(examples):
    return settings(settings.get_profile(PROFILE), max_examples=examples * SCALE)


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


@pytest.fixture
def world(client, make_account, token_for):
    return build_world(client, make_account, token_for)


def no_5xx(response, what):
    assert response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", (what, response.status_code)


# --- values ----------------------------------------------------------------------------------------------

NASTY = [
    "",
    "\0",
    "a\0b",
    "\ud800",
    "9" * 5000,
    "-" + "9" * 30,
    str(2**63),
    str(-(2**63) - 1),
    str(2**31),
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "-0",
    "1_000",
    "0x10",
    "\u0661\u0662",
    ",",
    ",,",
    "%",
    "_",
    "\\",
    "null",
    "true",
    "[]",
    "{}",
    "'",
    '"',
    "x" * 4000,
    "\u202e\ufeff",
    "\U0001f600",
]
ODD_DATES = [
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "0000-00-00",
    "-0001-01-01",
    "9999-12-31T23:59:60",
    "2026-02-30",
    "2026-01-01T24:00:00",
    "2026-01-01T10:00+24:00",
    "2026-01-01T10:00:00.9999999Z",
    "20260101",
    "2026-W01-1",
]
# In Python's range as written, out of it in UTC: each was a 500 once (OverflowError)
OUT_IN_UTC = [
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59.999999-00:01",
    "0001-01-01T00:00:00.000001+00:01",
    "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00+23:59",
]
offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)),
)
dates = st.one_of(
    st.sampled_from(ODD_DATES),
    st.sampled_from(OUT_IN_UTC),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=offsets
    ).map(datetime.isoformat),
    # the first and the last day of Python's range, with an offset that may move them out of it in UTC
    st.datetimes(min_value=datetime(9999, 12, 31), timezones=offsets).map(datetime.isoformat),
    st.datetimes(max_value=datetime(1, 1, 1, 23, 59), timezones=offsets).map(datetime.isoformat),
    st.dates().map(str),
    st.integers(-99999, 99999).map(lambda year: f"{year:05d}-01-01"),
)
# Words the world's things answer to (column names and types of its catalogue item, operators, rights,
# formats, ...), so generated bodies get past "unknown column" into the checks behind it.
OPERATORS = [">", ">=", "<", "<=", "=", "!="]
VOCABULARY = [
    *WORDS,
    *OPERATORS,
    "csv",
    "parquet",
    "sample",
    "text",
    "editAssets",
    "READ",
    "WRITE",
    "GRANT",
    "editor",
    "viewer",
    "file",
    "api",
    "database",
    "builtin:filter_rows",
]
text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(NASTY),
    st.sampled_from(VOCABULARY),
    dates,
    st.text(min_size=500, max_size=3000),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),
    st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**300, 2**64]),
)
finite = numbers.filter(lambda n: n == n and abs(n) != float("inf"))  # json.dumps writes NaN and Infinity
scalars = st.one_of(st.none(), st.booleans(), finite, text)


def containers(inner):
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4))


json_values = st.recursive(scalars, containers, max_leaves=16)


# --- the query grammar -----------------------------------------------------------------------------------


@st.composite
def queries(draw):
    """A collection and a query over it: declared parameters (every operator) and made-up ones."""
    route = draw(st.sampled_from(COLLECTIONS))
    declared = list(route.collection.variables()) + list(route.collection.extra_params)
    names = st.one_of(st.sampled_from(declared), st.text(max_size=20))
    values = st.one_of(
        text,
        numbers.map(str),
        st.uuids().map(str),
        dates,
        st.lists(st.sampled_from(declared).map(lambda v: "-" + v), max_size=3).map(",".join),
        st.lists(text, min_size=2, max_size=4).map(",".join),
    )
    pairs = draw(st.lists(st.tuples(names, values), max_size=5))
    extra = [(name, "") for name in route.collection.extra_params if name not in dict(pairs)]
    return route, urlencode(extra + pairs, errors="surrogatepass")  # "\ud800" as %ED%A0%80


@bounded(300)
@given(case=queries())
def test_no_query_gives_a_5xx_on_any_collection(app, client, world, case):
    headers, values = world
    route, query = case
    no_5xx(client.get(url_of(app, route, values) + "?" + query, headers=headers), (route.id, query))


# --- JSON bodies -----------------------------------------------------------------------------------------


def shaped(schema, depth=0):
    """Objects with the schema's own field names (nested schemas too) and any values, often wrong ones."""
    if schema is None or depth > 3:
        return json_values
    properties = {}
    for name, fld in schema.fields.items():
        inner = fld.inner if isinstance(fld, fields.List) else fld
        if isinstance(inner, fields.Nested) and not isinstance(inner.schema, type):
            value = shaped(inner.schema, depth + 1)
            value = st.lists(value, max_size=3) if inner is not fld else value
        elif isinstance(inner, fields.Integer):
            value = numbers
        elif isinstance(inner, (fields.String, fields.DateTime)):
            value = text
        else:
            value = json_values
        properties[fld.data_key or name] = st.one_of(value, json_values)
    return st.fixed_dictionaries({}, optional=properties)


def deep(depth, leaf="0"):
    return "[" * depth + leaf + "]" * depth


@st.composite
def bodies(draw):
    """A route that takes a body and the raw bytes of a body for it (JSON or not)."""
    route = draw(st.sampled_from(BODY_ROUTES))
    value = draw(st.one_of(shaped(route.schema), json_values))
    raw = draw(
        st.one_of(
            st.just(json.dumps(value)),
            st.just(json.dumps(value)),
            st.integers(min_value=1, max_value=5000).map(deep),
            st.sampled_from(
                ["NaN", "[Infinity]", '{"a": -Infinity}', "1e400", "", "{", '{"a":1}x', "\ufeff{}"]
            ),
            st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
        )
    )
    return route, raw.encode("utf-8", "surrogatepass")


@bounded(400)
@given(case=bodies())
def test_no_json_body_gives_a_5xx_on_any_route(app, client, world, case):
    headers, values = world
    route, raw = case
    response = client.open(
        url_of(app, route, values),
        method=route.method,
        data=raw,
        headers=headers,
        content_type="application/json",
    )
    no_5xx(response, (route.id, raw[:300]))


# --- download filters: where body values reach SQL -------------------------------------------------------


@st.composite
def filters(draw):
    """A download spec over the world's catalogue item (columns and types ``WORDS``): filter values of the
    column's type (odd ones: dates out of range in UTC, huge numbers), of another type, or any JSON."""
    types = dict(zip(WORDS[::2], WORDS[1::2], strict=False))
    typed = {
        "DATETIME": st.one_of(st.sampled_from(OUT_IN_UTC), dates),
        "INTEGER": numbers,
        "FLOAT": numbers,
        "STRING": text,
        "BOOLEAN": st.booleans(),
    }

    def one_filter(name):
        value = st.one_of(typed[types[name]], json_values, numbers.map(str))
        return st.fixed_dictionaries(
            {"name": st.just(name), "operator": st.sampled_from(OPERATORS), "value": value}
        )

    spec = {
        "columns": draw(st.lists(st.sampled_from(list(types)), min_size=1, max_size=3, unique=True)),
        "filters": draw(st.lists(st.sampled_from(list(types)).flatmap(one_filter), max_size=3)),
    }
    if draw(st.booleans()):
        spec["randomize_ratio"] = draw(st.one_of(st.floats(allow_nan=False, allow_infinity=False), numbers))
    return draw(st.sampled_from(["/downloader/requests/", "/downloader/requests/estimate/"])), spec


@bounded(150)
@given(case=filters())
def test_no_download_filter_gives_a_5xx(app, client, world, case):
    headers, values = world
    path, spec = case
    body = {"catalogue_item_id": values["item_id"], "spec": spec}
    no_5xx(
        client.post(path, headers=headers, data=json.dumps(body), content_type="application/json"),
        (path, body),
    )
