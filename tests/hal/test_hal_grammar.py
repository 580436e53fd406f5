"""The §4 query grammar: what parses, and the 400 for everything else."""

import uuid
from datetime import datetime

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from app.hal import Field, QueryError


def args(query: str) -> MultiDict:
    """Parse a raw query string exactly as werkzeug does for a request."""
    from werkzeug.wrappers import Request

    return Request.from_values(query_string=query).args


def test_defaults(coll):
    q = coll.parse(args(""))
    assert (q.style, q.page, q.size, q.offset, q.sort, q.filters, q.id_lookup) == (
        "page",
        1,
        10,
        0,
        [],
        [],
        False,
    )


def test_page_and_size(coll):
    q = coll.parse(args("page=3&size=20"))
    assert (q.page, q.size, q.offset) == (3, 20, 40)


def test_limit_offset(coll):
    q = coll.parse(args("limit=5&offset=7"))
    assert (q.style, q.size, q.offset) == ("offset", 5, 7)


def test_sort_forms(coll):
    assert coll.parse(args("sort=-created,title")).sort == [("created", True), ("title", False)]
    assert coll.parse(args("sort=%2Btitle")).sort == [("title", False)]
    assert coll.parse(args("sort=+title,-bytes")).sort == [("title", False), ("bytes", True)]  # "+" → space


@pytest.mark.parametrize(
    "query, param, op, values",
    [
        ("title=cat", "title", "eq", ["cat"]),
        ("kind=image,video", "kind", "any", ["image", "video"]),
        ("kind!=audio", "kind!", "ne", ["audio"]),
        ("title~=cat", "title~", "contains", ["cat"]),
        ("bytesFrom=10", "bytesFrom", "from", [10]),
        ("bytesTo=-3", "bytesTo", "to", [-3]),
        ("score=1.5", "score", "eq", [1.5]),
        ("public=true", "public", "eq", [True]),
        ("public=0", "public", "eq", [False]),
        ("createdFrom=2026-01-02T10:00:00Z", "createdFrom", "from", [datetime(2026, 1, 2, 10)]),
        ("createdFrom=2026-01-02T10:00:00%2B02:00", "createdFrom", "from", [datetime(2026, 1, 2, 8)]),
        ("createdFrom=2026-01-02T10:00:00+02:00", "createdFrom", "from", [datetime(2026, 1, 2, 8)]),
        ("createdFrom=2026-01-02", "createdFrom", "from", [datetime(2026, 1, 2)]),
        ("createdTo=2026-01-02", "createdTo", "to", [datetime(2026, 1, 2, 23, 59, 59, 999999)]),
        ("uid=00000000-0000-0000-0000-000000000001", "uid", "eq", [uuid.UUID(int=1)]),
        ("tag=red,blue", "tag", "any", ["red", "blue"]),
    ],
)
def test_filter_forms(coll, query, param, op, values):
    (flt,) = coll.parse(args(query)).filters
    assert (flt.param, flt.op, flt.values) == (param, op, values)


def test_id_lookup(coll):
    assert coll.parse(args("id=3")).id_lookup
    assert not coll.parse(args("id=3,4")).id_lookup


def test_extra_params_pass_through(coll):
    assert coll.parse(args("query=a&query=b")).extras == [("query", "a"), ("query", "b")]


@pytest.mark.parametrize(
    "query, param",
    [
        ("bogus=1", "bogus"),
        ("nopeFrom=1", "nopeFrom"),
        ("nope!=1", "nope!"),
        ("secret=x", "secret"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        ("page=1.5", "page"),
        ("size=0", "size"),
        ("size=21", "size"),
        ("size=", "size"),
        ("limit=0", "limit"),
        ("limit=21", "limit"),
        ("offset=-1", "offset"),
        ("page=1&limit=5", "limit"),
        ("size=5&offset=5", "offset"),
        ("page=1&page=2", "page"),
        ("title=a&title=b", "title"),
        ("sort=score", "sort"),
        ("sort=nope", "sort"),
        ("sort=title,title", "sort"),
        ("sort=title,", "sort"),
        ("sort=", "sort"),
        ("size=abc", "size"),
        ("bytesFrom=ten", "bytesFrom"),
        ("size=1&size=2", "size"),
        ("id=1.5", "id"),
        ("score=abc", "score"),
        ("score=nan", "score"),
        ("public=yes", "public"),
        ("created=2026-13-01", "created"),
        ("createdFrom=yesterday", "createdFrom"),
        ("uid=not-a-uuid", "uid"),
        ("kind=picture", "kind"),
        ("kind=image,picture", "kind"),
        ("bytes~=1", "bytes~"),
        ("note~=x", "note~"),
        ("title~=", "title~"),
        ("titleFrom=a", "titleFrom"),
        ("publicTo=1", "publicTo"),
        ("kindFrom=image", "kindFrom"),
        ("id=2147483648", "id"),
        ("id=-99999999999999", "id"),
        ("offset=99999999999999999999", "offset"),
        ("page=99999999999999999999", "page"),
        # issue 13: each of these was a 500 (OverflowError or ValueError from int(), or at the database)
        ("createdFrom=9999-12-31T23:00:00-05:00", "createdFrom"),  # year 10000 in UTC
        ("created=0001-01-01T00:00:00%2B05:00", "created"),  # year 0 in UTC
        ("createdTo=0001-01-01T04:00:00+05:00", "createdTo"),  # "+" is a space: the offset still counts
        ("created=10000-01-01", "created"),
        ("created=-0001-01-01", "created"),
        ("id=" + "9" * 5000, "id"),  # int() refuses more than 4300 digits
        ("page=" + "1" * 5000, "page"),
        ("offset=-" + "1" * 5000, "offset"),
        ("id=%D9%A1", "id"),  # an Arabic-Indic digit: int() takes it, the grammar does not
        ("size=20&page=230584300921369396", "page"),  # (page - 1) * size past 2**62: past SQL's OFFSET
    ],
)
def test_bad_queries_name_the_parameter(coll, query, param):
    with pytest.raises(QueryError) as info:
        coll.parse(args(query))
    err = info.value
    assert isinstance(err, BadRequest) and err.code == 400
    assert err.param == param and list(err.errors) == [param] and err.errors[param]
    assert err.event == "QUERY_DID_NOT_VALIDATE"
    assert repr(param) in err.description


def test_field_declaration_defaults():
    assert Field("a").search and not Field("a").range
    assert Field("n", type="int").range and not Field("n", type="int").search
    assert not Field("b", type="bool").range
    with pytest.raises(ValueError):
        Field("x", type="money")
    with pytest.raises(ValueError):
        Field("e", type="enum")


def test_bad_declarations(models):
    with pytest.raises(ValueError):
        models.make_collection(id_field="nope")
    with pytest.raises(ValueError):
        models.make_collection(default_sort=("score",))


def test_integer_bounds_follow_the_column_type():
    from sqlalchemy import BigInteger, Column, Integer

    from app.hal.grammar import parse_value

    big, small = (
        Field("big", Column("big", BigInteger), type="int"),
        Field("n", Column("n", Integer), type="int"),
    )
    assert parse_value(big, "big", str(2**40)) == 2**40
    assert parse_value(big, "big", str(-(2**63 - 1))) == -(2**63 - 1)
    assert parse_value(small, "n", str(2**31 - 1)) == 2**31 - 1
    for fld, raw in ((big, str(2**63)), (small, str(2**31)), (small, str(-(2**31)))):
        with pytest.raises(QueryError) as info:
            parse_value(fld, fld.name, raw)
        assert "out of range" in str(info.value.errors)
