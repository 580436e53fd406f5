"""HAL document rendering: links, embedding, curies, templates and validation."""

import pytest

from app.hal import CurieRegistry, Document, Link, Property, Template

BASE = "http://api.test/"


@pytest.fixture
def curies():
    return CurieRegistry()


def test_properties_then_links_then_embedded():
    doc = Document({"title": "a"}, "http://x/1").embed("item", Document({}, "http://x/2"))
    assert list(doc.to_dict()) == ["title", "_links", "_embedded"]


def test_self_first_then_iana_then_curied():
    doc = Document({}).link("ec:owner", "http://x/u").link("up", "http://x/").link("self", "http://x/1")
    doc.link("collection", "http://x/")
    assert list(doc.to_dict()["_links"]) == ["self", "up", "collection", "ec:owner"]


def test_array_rels_and_a_late_self_are_put_in_order_too():
    doc = (
        Document({}).links("ec:items", ["http://x/a"]).link("next", "http://x/?p=2").link("self", "http://x/")
    )
    assert list(doc.to_dict()["_links"]) == ["self", "next", "ec:items"]
    in_order = Document({}, "http://x/").link("next", "http://x/?p=2").links("ec:items", [])
    assert list(in_order.to_dict()["_links"]) == ["self", "next", "ec:items"]


def test_link_kwargs_and_link_objects():
    doc = Document({}, "http://x/1").link("search", "http://x/{?q}", templated=True, title="Search")
    doc.link("help", Link("http://x/help"), title="Help")
    links = doc.to_dict()["_links"]
    assert links["search"] == {"href": "http://x/{?q}", "templated": True, "title": "Search"}
    assert links["help"] == {"href": "http://x/help", "title": "Help"}


def test_link_twice_raises():
    doc = Document({}, "http://x/1")
    with pytest.raises(ValueError):
        doc.link("self", "http://x/2")


def test_rel_never_switches_between_object_and_array():
    doc = Document({}, "http://x/1").link("item", "http://x/2")
    with pytest.raises(ValueError):
        doc.links("item", ["http://x/3"])
    doc = Document({}, "http://x/1").links("item", [])
    with pytest.raises(ValueError):
        doc.link("item", "http://x/3")


def test_links_is_always_an_array():
    doc = Document({}, "http://x/1").links("item", []).links("alternate", ["http://x/a"])
    doc.links("alternate", [Link("http://x/b")])
    links = doc.to_dict()["_links"]
    assert links["item"] == []
    assert links["alternate"] == [{"href": "http://x/a"}, {"href": "http://x/b"}]


def test_embed_single_and_many():
    child = Document({"n": 1}, "http://x/c")
    doc = Document({}, "http://x/1").embed("owner", child).embed_many("items", []).embed_many("more", [child])
    embedded = doc.to_dict()["_embedded"]
    assert embedded["owner"] == {"n": 1, "_links": {"self": {"href": "http://x/c"}}}
    assert embedded["items"] == []
    assert isinstance(embedded["more"], list) and len(embedded["more"]) == 1
    with pytest.raises(ValueError):
        doc.embed_many("owner", [child])
    with pytest.raises(ValueError):
        doc.embed("items", child)


def test_no_curies_without_curied_rels(curies):
    doc = Document({}, "http://x/1").link("up", "http://x/")
    assert "curies" not in doc.to_dict(curies=curies, base_url=BASE)["_links"]


def test_curies_when_a_link_is_curied(curies):
    doc = Document({}, "http://x/1").link("up", "http://x/").link("ec:assets", "http://x/a")
    links = doc.to_dict(curies=curies, base_url=BASE)["_links"]
    assert links["curies"] == [{"name": "ec", "href": "http://api.test/rels/{rel}", "templated": True}]
    assert list(links) == ["self", "up", "curies", "ec:assets"]


def test_curies_need_registry_and_base_url(curies):
    doc = Document({}, "http://x/1").link("ec:assets", "http://x/a")
    assert "curies" not in doc.to_dict()["_links"]
    assert "curies" not in doc.to_dict(curies=curies)["_links"]


def test_curies_for_nested_embedded_rels_only_on_top_level(curies):
    grandchild = Document({}, "http://x/g").link("ec:owner", "http://x/u")
    child = Document({}, "http://x/c").embed("item", grandchild)
    out = Document({}, "http://x/1").embed("item", child).to_dict(curies=curies, base_url=BASE)
    assert out["_links"]["curies"][0]["name"] == "ec"
    inner = out["_embedded"]["item"]
    assert "curies" not in inner["_links"]
    assert "curies" not in inner["_embedded"]["item"]["_links"]


def test_curies_for_curied_embedded_rel(curies):
    doc = Document({}, "http://x/1").embed_many("ec:assets", [])
    assert "curies" in doc.to_dict(curies=curies, base_url=BASE)["_links"]


def test_templates_only_with_with_templates_and_default_first():
    child = Document({}, "http://x/c").template("default", Template("PUT"))
    doc = Document({}, "http://x/1").template("delete", Template("DELETE")).template("default", Template())
    doc.embed("item", child)
    assert "_templates" not in doc.to_dict()
    out = doc.to_dict(with_templates=True)
    assert list(out["_templates"]) == ["default", "delete"]
    assert out["_templates"]["delete"] == {
        "method": "DELETE",
        "contentType": "application/json",
        "properties": [],
    }
    # an embedded item carries its own templates (what a client may do with it), in HAL-FORMS only
    assert out["_embedded"]["item"]["_templates"]["default"]["method"] == "PUT"
    assert "_templates" not in doc.to_dict()["_embedded"]["item"]


def test_no_templates_key_when_none_defined():
    assert "_templates" not in Document({}, "http://x/1").to_dict(with_templates=True)


def test_template_rendering_with_properties():
    tpl = Template("PUT", [Property("title", required=True)], title="Edit", target="http://x/1")
    assert tpl.to_dict() == {
        "method": "PUT",
        "contentType": "application/json",
        "title": "Edit",
        "target": "http://x/1",
        "properties": [{"name": "title", "required": True, "type": "text"}],
    }


def test_validate_reports_missing_self_recursively():
    ok = Document({}, "http://x/1").embed_many("items", [Document({}, "http://x/2")])
    assert ok.validate() == []
    bad = Document({}).embed_many("items", [Document({}, "http://x/2"), Document({})])
    problems = bad.validate()
    assert len(problems) == 2
    assert "items" in problems[1] and "[1]" in problems[1]


def test_curie_registry():
    reg = CurieRegistry()
    reg.document("assets/deleted", title="Deleted", description="Soft-deleted assets")
    reg.document("assets/deleted", title="Deleted", description="Soft-deleted assets")
    reg.document(
        "asset",
        title="Asset",
        description="One",
        methods=("get", "put"),
        properties=[Property("title")],
        templates={"default": Template("PUT")},
    )
    with pytest.raises(ValueError):
        reg.document("asset", title="Other", description="One")
    assert [e["rel"] for e in reg.all()] == ["asset", "assets/deleted"]
    assert reg.get("ec:asset")["methods"] == ["GET", "PUT"]
    assert reg.get("asset")["properties"] == [{"name": "title", "type": "text"}]
    assert reg.get("nope") is None
    assert reg.is_curied("ec:asset") and not reg.is_curied("self")
    assert "asset" in reg and "ec:asset" in reg and "other" not in reg
    assert reg.curie_link("http://a/b/") == {"name": "ec", "href": "http://a/b/rels/{rel}", "templated": True}
