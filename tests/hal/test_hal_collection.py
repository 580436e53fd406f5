"""Collections against SQLite: filters and sorts in SQL, COUNT queries and id lookups."""

import pytest
from sqlalchemy import event, select
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request


def args(query: str):
    return Request.from_values(query_string=query).args


def ids(page):
    return [a.id for a in page.items]


@pytest.fixture
def run(coll, session, models):
    def run(query: str, collection=None):
        return (collection or coll).page(session, select(models.Asset), args(query))

    return run


def test_default_sort_and_tiebreak(run):
    page = run("")
    assert ids(page) == list(range(25, 15, -1))
    assert (page.total, page.count) == (25, 10)


def test_multi_key_sort_with_tiebreak(run, models):
    page = run("sort=bytes,-kind&size=20")
    rows = sorted((models.make_asset(i) for i in range(1, 26)), key=lambda a: a.id)
    rows.sort(key=lambda a: a.kind, reverse=True)
    rows.sort(key=lambda a: a.size)
    assert ids(page) == [a.id for a in rows][:20]


def test_sort_ties_broken_by_id_ascending(run):
    assert ids(run("sort=bytes&size=5")) == [5, 10, 15, 20, 25]
    assert ids(run("sort=-bytes&size=5")) == [4, 9, 14, 19, 24]


def test_exact_any_and_ne(run):
    assert ids(run("id=1,2,3&sort=id")) == [1, 2, 3]
    assert ids(run("kind=image&sort=id&size=20")) == [3, 6, 9, 12, 15, 18, 21, 24]
    assert ids(run("kind=image,audio&sort=id&size=20")) == [i for i in range(1, 26) if i % 3 != 1][:20]
    assert run("kind!=image").total == 17
    assert run("kind!=image,audio").total == 9


def test_ne_keeps_nulls(run):
    # note is NULL for every 4th asset; "not equal to n1" still includes them.
    assert run("note!=n1").total == 25 - 7


def test_bool_float_uuid(run):
    assert run("public=true").total == 12
    assert run("public=0").total == 13
    assert ids(run("score=2.5")) == [5]
    assert ids(run("uid=00000000-0000-0000-0000-000000000007")) == [7]


def test_contains_is_case_insensitive_and_escapes_wildcards(run):
    assert sorted(ids(run("title~=CAT&size=20"))) == [1, 2, 3, 4, 5]
    assert ids(run("title~=100%25")) == [1]  # "%" matches itself
    assert ids(run("title~=cat_")) == [2]  # "_" is not a wildcard (would match catX, cats)
    assert run("title~=%25_").total == 0


def test_int_ranges_are_inclusive(run):
    page = run("bytesFrom=10&bytesTo=20&size=20")
    assert page.total == 10 and all(10 <= a.size <= 20 for a in page.items)


def test_datetime_ranges_inclusive_with_z_offsets_and_dates(run):
    # asset i is created at 2026-01-0i 12:00 UTC
    assert sorted(ids(run("createdFrom=2026-01-02T12:00:00Z&createdTo=2026-01-04T12:00:00Z"))) == [2, 3, 4]
    assert sorted(ids(run("createdFrom=2026-01-02T14:00:00%2B02:00&createdTo=2026-01-03T12:00:00"))) == [2, 3]
    assert sorted(ids(run("createdFrom=2026-01-02&createdTo=2026-01-03"))) == [2, 3]
    assert run("createdTo=2025-12-31").total == 0


def test_custom_filter_hook(run):
    assert sorted(ids(run("tag=red"))) == [1, 2]
    assert sorted(ids(run("tag=red,blue"))) == [1, 2, 3]
    assert run("tag!=red").total == 23


def test_count_respects_filters_not_paging(run):
    page = run("kind=video&size=3&page=2")
    assert (page.total, page.count) == (9, 3)


def test_total_is_one_count_and_items_one_select(run, engine):
    statements = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        run("kind=video&title~=asset&sort=title")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(statements) == 2
    assert "count(*)" in statements[0].lower() and "LIMIT" in statements[1]


def test_id_lookup_returns_single(run):
    page = run("id=7")
    assert page.single.id == 7 and page.total == 1


def test_id_lookup_not_found(run):
    with pytest.raises(NotFound):
        run("id=999")


def test_id_lookup_custom_not_found(run, models):
    class Missing(NotFound):
        event = "COULD_NOT_FIND_ASSET"

    with pytest.raises(Missing):
        run("id=999", models.make_collection(not_found=Missing))


def test_datetime_written_to_the_millisecond_means_that_millisecond(coll, empty_session, models):
    # Stored to the microsecond, represented to the millisecond (rfc3339): the shown value finds the item.
    from datetime import timedelta

    for i, micro in ((1, 123456), (2, 123999), (3, 124000), (4, 0)):
        asset = models.make_asset(i)
        asset.created = models.START + timedelta(microseconds=micro)
        empty_session.add(asset)
    empty_session.commit()

    def run(query):
        return sorted(ids(coll.page(empty_session, select(models.Asset), args(query))))

    assert run("created=2026-01-01T00:00:00.123Z") == [1, 2]
    assert run("created=2026-01-01T00:00:00.123Z,2026-01-01T00:00:00.124Z") == [1, 2, 3]
    assert run("created!=2026-01-01T00:00:00.123Z") == [3, 4]
    assert run("createdTo=2026-01-01T00:00:00.123Z") == [1, 2, 4]
    assert run("createdFrom=2026-01-01T00:00:00.123Z") == [1, 2, 3]
    assert run("created=2026-01-01T00:00:00.123456Z") == [1]  # finer than a millisecond: exact
    assert run("created=2026-01-01T00:00:00Z") == [4]


def test_dates_at_the_ends_of_python_s_range(coll, empty_session, models):
    """Years 1 and 9999 filter like any other date; the last millisecond of 9999 has no "next" one."""
    from datetime import datetime

    for i, created in ((1, datetime.min), (2, datetime.max), (3, datetime(9999, 12, 31, 23, 59, 59, 999000))):
        asset = models.make_asset(i)
        asset.created = created
        empty_session.add(asset)
    empty_session.commit()

    def run(query):
        return sorted(ids(coll.page(empty_session, select(models.Asset), args(query))))

    assert run("created=9999-12-31T23:59:59.999Z") == [2, 3]
    assert run("created!=9999-12-31T23:59:59.999Z") == [1]
    assert run("createdTo=9999-12-31T23:59:59.999Z") == [1, 2, 3]
    assert run("createdTo=9999-12-31") == [1, 2, 3]
    assert run("createdFrom=9999-12-31T18:59:59.999-05:00") == [2, 3]
    assert run("created=0001-01-01") == [1]
    assert run("createdTo=0001-01-01T00:00:00Z") == [1]
    assert run("size=20&page=230584300921369395") == []  # the last page whose offset SQL takes
