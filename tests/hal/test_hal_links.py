"""Link rendering, RFC 6570 query templates and their expansion."""

from urllib.parse import parse_qs, urlsplit

import pytest
import uritemplate

from app.hal import Link, encode_varname, expand, query_template


def test_link_to_dict_omits_unset_fields():
    assert Link("http://x/a").to_dict() == {"href": "http://x/a"}


def test_link_to_dict_keeps_set_fields_in_order():
    link = Link("http://x/{id}", templated=True, title="T", type="text/html", name="n", hreflang="en")
    assert list(link.to_dict()) == ["href", "templated", "title", "type", "name", "hreflang"]
    assert link.to_dict()["templated"] is True


@pytest.mark.parametrize(
    "name, encoded",
    [
        ("page", "page"),
        ("title~", "title%7E"),
        ("type!", "type%21"),
        ("createdFrom", "createdFrom"),
        ("a.b", "a.b"),
        (".a", "%2Ea"),
        ("a..b", "a%2E%2Eb"),
        ("a-b", "a%2Db"),
        ("snake_case", "snake_case"),
    ],
)
def test_encode_varname(name, encoded):
    assert encode_varname(name) == encoded


def test_query_template_uses_form_style_query():
    assert query_template("http://x/a", ["page", "title~"]) == "http://x/a{?page,title%7E}"


def test_query_template_continues_an_existing_query():
    assert query_template("http://x/a?b=1", ["page"]) == "http://x/a?b=1{&page}"


def test_query_template_without_names_is_the_href():
    assert query_template("http://x/a", []) == "http://x/a"


def test_template_is_valid_for_uritemplate():
    tpl = query_template("http://x/a", ["page", "title~", "kind!", "sizeFrom"])
    assert list(uritemplate.URITemplate(tpl).variable_names) == ["page", "title%7E", "kind%21", "sizeFrom"]


def test_expand_accepts_decoded_names_and_server_reads_them_back():
    tpl = query_template("http://x/a", ["page", "title~", "kind!"])
    url = expand(tpl, **{"page": 2, "title~": "cat & dog", "kind!": "video"})
    assert parse_qs(urlsplit(url).query) == {"page": ["2"], "title~": ["cat & dog"], "kind!": ["video"]}


def test_expand_also_accepts_encoded_names_and_skips_missing():
    tpl = query_template("http://x/a", ["page", "title~"])
    assert expand(tpl, **{"title%7E": "cat"}) == "http://x/a?title%7E=cat"
    assert expand(tpl) == "http://x/a"


def test_expand_with_werkzeug_parsing(flask_app):
    from flask import request

    url = expand(query_template("http://x/a", ["title~"]), **{"title~": "cat"})
    with flask_app.test_request_context(url):
        assert request.args.to_dict() == {"title~": "cat"}
