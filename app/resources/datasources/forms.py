"""Reading data-source bodies: multipart forms (with the CSV ``file``) or JSON, validated strictly."""

from flask import current_app, request
from marshmallow import ValidationError

from app.errors import BodyDidNotValidate, UnsupportedMediaType
from app.outbound import OutboundError, check_url
from app.representation import json_body
from app.resources.datasources import connectors
from app.resources.datasources.lake import LocationRefused, check_location

TYPE_FIELDS = {"file": set(), "database": {"connection", "query"}, "api": {"url"}, "external": {"url"}}
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def read_body(schema):
    """``(data, upload)`` from the request; 400 naming every bad field, 415 for other media types."""
    errors, upload = {}, None
    if request.mimetype in FORM_TYPES:
        data = {}
        for key, values in request.form.lists():
            data[key] = values[0]
            if len(values) > 1:
                errors[key] = ["Must not be repeated."]
        if "file" in data:
            errors["file"] = ["Must be a file upload, not a text field."]
            del data["file"]
        for key in request.files:
            if key != "file":
                errors[key] = ["Unknown field."]
        upload = request.files.get("file")
        if upload is not None and not upload.filename:
            errors["file"] = ["The file part has no file name."]
    elif request.is_json:
        data = json_body()
        if not isinstance(data, dict):
            raise BodyDidNotValidate(errors={"_schema": ["Expected a JSON object."]})
    else:
        raise UnsupportedMediaType("Send multipart/form-data (or application/json when there is no file).")
    try:
        loaded = schema.load(data)
    except ValidationError as error:
        errors.update(error.messages)
        loaded = {}
    if errors:
        raise BodyDidNotValidate(errors=errors)
    return loaded, upload


def check_type_fields(data, upload, existing=None):
    """400 unless the fields sent fit the type; ``existing`` (PUT) may keep its file or connection."""
    kind, errors = data["type"], {}
    keep = existing is not None and existing.type == kind
    for name in ("connection", "query", "url"):
        if name in data and name not in TYPE_FIELDS[kind]:
            errors[name] = [f"Only used by type {'database' if name != 'url' else 'api or external'}."]
    if kind != "file" and upload is not None:
        errors["file"] = ["Only used by type file."]
    if kind == "file" and upload is None and not keep:
        errors["file"] = ["A CSV file is required for type file."]
    if kind == "database":
        if "query" not in data:
            errors["query"] = ["Required for type database."]
        elif message := connectors.check_query(data["query"]):
            errors["query"] = [message]
        if "connection" in data:
            if message := connectors.check_connection(data["connection"]):
                errors["connection"] = [message]
        elif not keep:
            errors["connection"] = ["Required for type database."]
    if kind in ("api", "external"):
        check = check_api_url if kind == "api" else check_external_url
        if "url" not in data:
            errors["url"] = [f"Required for type {kind}."]
        elif message := check(data["url"]):
            errors["url"] = [message]
    if errors:
        raise BodyDidNotValidate(errors=errors)


def check_api_url(value):

    try:
        check_url(value)
    except OutboundError as error:
        return f"The URL is not allowed ({getattr(error, 'kind', 'refused')})."
    return None


def check_external_url(value):

    try:
        check_location(value)
    except LocationRefused as error:
        return str(error)
    return None


def set_connection(source, data):
    """Store the connection by reference (a configured name) or encrypted; never in clear."""
    if "connection" not in data:
        return
    value = data["connection"]
    if value in connectors.configured_connections():
        source.connection_ref, source.connection_secret = value, None
    else:
        source.connection_ref, source.connection_secret = None, connectors.encrypt(value)


def inline_limit():
    return current_app.config["HALYARD_DATASOURCE_INLINE_BYTES"]
