"""Filter names in two spellings: the §4 suffixes (``title!``, ``title~``, ``createdFrom``) and the dotted
aliases every URI Template library expands as they are (``title.not``, ``title.contains``,
``created.from``); one vocabulary (``grammar.OPERATORS``) for the parser, the template and OpenAPI."""

import pytest
from sqlalchemy import select
from werkzeug.wrappers import Request

from app.hal import QueryError, expand
from app.hal.grammar import OPERATORS

# (suffix spelling, dotted spelling) of the same filter over the test assets
PAIRS = [
    ("title~=asset 1", "title.contains=asset 1"),
    ("title!=asset 06", "title.not=asset 06"),
    ("kind!=image,video", "kind.not=image,video"),
    ("bytesFrom=10&bytesTo=30", "bytes.from=10&bytes.to=30"),
    ("createdFrom=2026-01-03&createdTo=2026-01-10", "created.from=2026-01-03&created.to=2026-01-10"),
    ("id!=4&scoreFrom=1.5", "id.not=4&score.from=1.5"),
    ("tag!=red", "tag.not=red"),
]


def run(coll, session, models, query):
    return coll.page(session, select(models.Asset), Request.from_values(query_string=query).args)


@pytest.mark.parametrize(("suffix", "dotted"), PAIRS)
def test_both_spellings_select_the_same_items(coll, session, models, suffix, dotted):
    old, new = run(coll, session, models, suffix), run(coll, session, models, dotted)
    assert old.total == new.total and [a.id for a in old.items] == [a.id for a in new.items]
    assert 0 < old.total < 25  # each pair really filters
    # the page links keep the spelling the client used
    assert [f.param for f in new.query.filters] == [pair.split("=")[0] for pair in dotted.split("&")]


@pytest.mark.parametrize(
    ("query", "param", "message"),
    [
        ("note.contains=x", "note.contains", "does not support '~=' (contains)"),
        ("title.from=a", "title.from", "does not support ranges"),
        ("secret.not=x", "secret.not", "cannot be filtered"),
        ("title.like=x", "title.like", "unknown query parameter"),
        ("bytes.to=many", "bytes.to", "integer"),
    ],
)
def test_a_wrong_dotted_filter_is_a_400_naming_it(coll, session, models, query, param, message):
    with pytest.raises(QueryError) as err:
        run(coll, session, models, query)
    assert list(err.value.errors) == [param] and message in err.value.errors[param][0]


def test_the_template_advertises_both_spellings_and_the_dotted_ones_expand_unencoded(coll):
    names = coll.variables()
    for operator in OPERATORS:
        if operator.op in ("from", "to"):
            assert {"created" + operator.suffix, f"created.{operator.alias}"} <= set(names)
    assert {"title!", "title.not", "title~", "title.contains"} <= set(names)
    # the suffix spellings come first, as before (the old template is a prefix of the new one)
    assert names.index("tag!") < names.index("id.not")
    href = coll.options_link("http://api.test/assets").href
    assert "title.contains" in href and "title%7E" in href
    url = expand(href, **{"title.contains": "cat", "created.from": "2024-01-01", "size": 2})
    assert url == "http://api.test/assets?size=2&title.contains=cat&created.from=2024-01-01"


def test_aliases_that_clash_with_a_field_are_refused(models):
    from app.hal import Field

    with pytest.raises(ValueError, match="title.not"):
        models.make_collection(
            fields=[Field("title", models.Asset.title), Field("title.not", models.Asset.note)],
            id_field=None,
            default_sort=(),
        )
