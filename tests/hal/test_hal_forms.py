"""HAL-FORMS properties derived from marshmallow schemas."""

import enum

import pytest
from marshmallow import Schema, fields, validate

from app.hal import OptionsLink, Property, Template, properties_from_schema


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class AssetSchema(Schema):
    id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.Email()
    homepage = fields.Url()
    count = fields.Integer(validate=validate.Range(min=0, max=10), load_default=3)
    ratio = fields.Float()
    price = fields.Decimal()
    public = fields.Boolean()
    created = fields.DateTime()
    kind = fields.String(validate=validate.OneOf(["image", "video"]))
    code = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$"))
    tags = fields.List(fields.String(validate=validate.Length(max=20)))
    meta_data = fields.Dict(data_key="metaData")
    blob = fields.Raw()
    colour = fields.Enum(Colour, by_value=True)


def by_name(props):
    return {p.name: p for p in props}


def test_dump_only_fields_are_skipped():
    assert "id" not in by_name(properties_from_schema(AssetSchema()))


def test_type_mapping():
    props = by_name(properties_from_schema(AssetSchema))
    expected = {
        "title": "text",
        "email": "email",
        "homepage": "url",
        "count": "number",
        "ratio": "number",
        "price": "number",
        "public": "checkbox",
        "created": "datetime-local",
        "kind": "text",
        "tags": "textarea",  # free values, one per line; options.multiple says it is a list
        "metaData": "textarea",
        "blob": "textarea",
        "colour": "text",
    }
    assert {name: props[name].type for name in expected} == expected


def test_validators_are_mapped():
    props = by_name(properties_from_schema(AssetSchema()))
    assert (props["title"].minLength, props["title"].maxLength) == (1, 100)
    assert (props["count"].min, props["count"].max) == (0, 10)
    assert props["kind"].options == ["image", "video"]
    assert props["code"].regex == "^[A-Z]{3}$"
    assert props["tags"].multiple and props["tags"].maxLength == 20
    assert props["colour"].options == ["red", "blue"]
    assert props["count"].value == 3


def test_required_and_partial():
    assert by_name(properties_from_schema(AssetSchema()))["title"].required
    assert not any(p.required for p in properties_from_schema(AssetSchema(), partial=True))


def test_data_key_and_exclude():
    names = [p.name for p in properties_from_schema(AssetSchema(), exclude=("blob", "metaData"))]
    assert "metaData" not in names and "meta_data" not in names and "blob" not in names
    assert "metaData" in [p.name for p in properties_from_schema(AssetSchema())]


def test_property_to_dict_omits_defaults_and_wraps_options():
    assert Property("a").to_dict() == {"name": "a", "type": "text"}
    prop = Property("k", required=True, options=["x", "y"], min=0, readOnly=True)
    assert prop.to_dict() == {
        "name": "k",
        "required": True,
        "type": "text",
        "min": 0,
        "readOnly": True,
        "options": {"inline": ["x", "y"]},
    }


def test_multiple_is_rendered_inside_options_where_hal_forms_clients_read_it():
    props = by_name(properties_from_schema(AssetSchema))
    tags = props["tags"].to_dict()
    assert "multiple" not in tags and tags["options"] == {"multiple": True}
    chosen = Property("rights", options=["READ", "WRITE"], multiple=True).to_dict()
    assert chosen["options"] == {"inline": ["READ", "WRITE"], "multiple": True}
    assert "options" not in props["title"].to_dict()


def test_an_id_field_takes_its_options_from_a_linked_collection_and_keeps_its_type():
    link = OptionsLink("http://h/api/v1/actions/", promptField="name", valueField="id")
    props = by_name(properties_from_schema(AssetSchema, options={"count": link}, values={"title": "x"}))
    assert props["count"].to_dict()["options"] == {
        "link": {"href": "http://h/api/v1/actions/", "type": "application/hal+json"},
        "promptField": "name",
        "valueField": "id",
    }
    assert props["count"].type == "number"  # sent as a number, as the schema loads it
    assert props["title"].value == "x"  # a prefilled parent id or value
    with pytest.raises(ValueError, match="no such fields"):
        properties_from_schema(AssetSchema, options={"nope": link})


# --- in-place edit templates start from the resource's current values (issue 19) ----------------


class EditSchema(Schema):
    title = fields.String(required=True)
    tags = fields.List(fields.String())
    enabled = fields.Boolean()
    payload = fields.Raw()
    password = fields.String()
    note = fields.String(load_default="none")


CURRENT = {"title": "Kite", "tags": ["red", "bird"], "enabled": False, "payload": {"a": 1}, "password": "x"}
NOTED = {**CURRENT, "note": "kept"}


def rendered(template):
    return {p["name"]: p for p in template.to_dict(CURRENT)["properties"]}


def test_a_put_or_patch_of_the_resource_itself_is_prefilled_with_plain_current_values():
    for method in ("PUT", "PATCH"):
        props = rendered(Template(method=method, properties=properties_from_schema(EditSchema)))
        assert props["title"]["value"] == "Kite"
        assert props["tags"]["value"] == ["red", "bird"]
        assert props["enabled"]["value"] is False  # a False current value is still a value
        assert "value" not in props["payload"]  # nested: shown in another shape than written
        assert props["password"]["type"] == "password" and "value" not in props["password"]
        assert props["note"]["value"] == "none"  # not in the resource: the schema's default
        noted = {
            p["name"]: p
            for p in Template(method=method, properties=properties_from_schema(EditSchema)).to_dict(NOTED)[
                "properties"
            ]
        }
        assert noted["note"]["value"] == "kept"  # the current value, not the default for a new one
        given = properties_from_schema(EditSchema, values={"payload": {"a": 1}})
        assert rendered(Template(method=method, properties=given))["payload"]["value"] == {"a": 1}


def test_posts_and_templates_aimed_elsewhere_are_not_prefilled():
    for template in (
        Template(method="POST", properties=properties_from_schema(EditSchema)),
        Template(method="PUT", target="https://x.example/b", properties=properties_from_schema(EditSchema)),
    ):
        props = rendered(template)
        assert "value" not in props["title"] and "value" not in props["tags"]


def test_a_document_prefills_its_own_edit_template_only_with_templates_on():
    from app.hal import Document

    doc = Document(dict(CURRENT), self_href="https://x.example/a")
    doc.template("default", Template(method="PUT", properties=properties_from_schema(EditSchema)))
    assert "_templates" not in doc.to_dict()
    props = {p["name"]: p for p in doc.to_dict(with_templates=True)["_templates"]["default"]["properties"]}
    assert props["title"]["value"] == "Kite"
