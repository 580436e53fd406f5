"""Shared OpenAPI schemas of the accounts domain (docs/openapi.md), named by its views' ``@api_doc``.

Request bodies are the domain's own validating schemas (schemas.py); the response schemas below
describe the properties ``views.represent_*`` and ``signin.represent`` really send (``_links`` and
``_embedded`` come from ``HalResource``, which every response component extends).
"""

from marshmallow import INCLUDE, Schema, fields, validate

from app.resources.accounts.models import ACCOUNT_TYPES


def _const(value, **kwargs):
    return fields.String(validate=validate.OneOf([value]), **kwargs)


class AccountUserSchema(Schema):
    """A user (seed 003's email, username, groups, url plus id, type, active, created)."""

    type_ = _const("account", data_key="@type", required=True)
    id = fields.Integer(required=True)
    email = fields.Email(required=True)
    username = fields.String(required=True, allow_none=True)
    type = fields.String(required=True, validate=validate.OneOf(ACCOUNT_TYPES))
    active = fields.Boolean(required=True)
    groups = fields.List(fields.Url(), required=True, metadata={"description": "The groups' URLs."})
    url = fields.Url(required=True, metadata={"description": "This user's own URL (seed 003)."})
    created = fields.DateTime(required=True)


class EmbeddedAccountSchema(Schema):
    """Seed 000's embedded account ``{"@type": "account", "id", "email", "type"}`` (plus ``_links.self``)."""

    class Meta:
        unknown = INCLUDE  # _links

    type_ = _const("account", data_key="@type", required=True)
    id = fields.Integer(required=True)
    email = fields.Email(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ACCOUNT_TYPES))


class AccountGroupSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    url = fields.Url(required=True)
    member_count = fields.Integer(required=True, validate=validate.Range(min=0))
    created = fields.DateTime(required=True)


class ApiTokenSchema(Schema):
    """An API token's metadata; never its secret."""

    type_ = _const("api_token", data_key="@type", required=True)
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    created = fields.DateTime(required=True)
    expires = fields.DateTime(required=True, allow_none=True)
    revoked = fields.DateTime(required=True, allow_none=True)
    current = fields.Boolean(required=True, metadata={"description": "Whether this request used this token."})


class TokenAccountEmbedsSchema(Schema):
    class Meta:
        unknown = INCLUDE

    account = fields.Nested(EmbeddedAccountSchema, data_key="ec:account", required=True)


class AuthTokenCreatedSchema(Schema):
    """The one response that carries a token's secret (seed 000/003's ``token``); the account is embedded."""

    event = fields.String(data_key="@event", required=True, validate=validate.OneOf(["AUTH_TOKEN_CREATED"]))
    type_ = _const("auth_token", data_key="@type", required=True)
    token = fields.String(required=True, metadata={"description": "The secret (`hy_…`), shown only here."})
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    created = fields.DateTime(required=True)
    expires = fields.DateTime(required=True, allow_none=True)
    revoked = fields.DateTime(required=True, allow_none=True)
    embedded = fields.Nested(TokenAccountEmbedsSchema, data_key="_embedded", required=True)


class AuthRequestSchema(Schema):
    """A device-style sign-in request; never the account attached to it."""

    event = fields.String(
        data_key="@event",
        validate=validate.OneOf(["AUTH_REQUEST_CREATED"]),
        metadata={"description": "Only in the 201 that creates it."},
    )
    type_ = _const("auth_request", data_key="@type", required=True)
    request_uuid = fields.UUID(required=True)
    authenticate_ui_uri = fields.String(
        required=True,
        metadata={
            "description": "The path of the page a person signs in on, as seed 000 shows it "
            "(the absolute URL is the ec:auth-request/ui link)."
        },
    )
    status = fields.String(required=True, validate=validate.OneOf(["pending", "attached", "expired"]))
    expires = fields.DateTime(required=True)


class AccountAttachedSchema(Schema):
    event = fields.String(
        data_key="@event", required=True, validate=validate.OneOf(["ACCOUNT_TO_AUTH_REQUEST_ATTACHED"])
    )
    type_ = _const("empty", data_key="@type", required=True)


USER = {200: AccountUserSchema}
GROUP = {200: AccountGroupSchema}

# --- device-style sign-in (seed 000) ------------------------------------------------------------

# --- users ----------------------------------------------------------------------------------------

# --- API tokens -----------------------------------------------------------------------------------

# --- groups ---------------------------------------------------------------------------------------
