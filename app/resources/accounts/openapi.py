"""OpenAPI metadata of every accounts operation (docs/openapi.md), declared without touching the views.

Request bodies are the domain's own validating schemas (schemas.py); the response schemas below
describe the properties ``views.represent_*`` and ``signin.represent`` really send (``_links`` and
``_embedded`` come from ``HalResource``, which every response component extends).
"""

from marshmallow import INCLUDE, Schema, fields, validate

from app.openapi import describe
from app.openapi.helpers import html_response, page
from app.resources.accounts import schemas
from app.resources.accounts.groups import groups_collection
from app.resources.accounts.models import ACCOUNT_TYPES
from app.resources.accounts.tokens import tokens_collection
from app.resources.accounts.users import users_collection

TAGS = ["accounts"]


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
describe(
    "accounts.create_auth_request",
    tags=TAGS,
    auth="none",
    request=None,
    responses={201: AuthRequestSchema},
    errors=(429,),
    description="No credentials and no body. 429 TOO_MANY_AUTH_REQUESTS past "
    "HALYARD_AUTH_REQUESTS_PER_MINUTE per client address.",
)
describe(
    "accounts.get_auth_request",
    tags=TAGS,
    auth="none",
    responses={200: AuthRequestSchema},
    description="404 for an unknown (or malformed) uuid and once a token consumed the request.",
)
describe(
    "accounts.authenticate_ui",
    tags=TAGS,
    auth="none",
    errors=(409,),
    responses={200: html_response("The sign-in form.")},
    description="Always text/html: 400 for a malformed or expired request, 404 unknown, 409 already "
    "attached (each as a page).",
)
describe(
    "accounts.oidc_start",
    tags=TAGS,
    auth="none",
    errors=(409, 503),
    responses={
        302: {
            **html_response(
                "To the OpenID Connect provider's authorization endpoint (state, "
                "nonce, S256 PKCE challenge; a new login bound to this auth request)."
            ),
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "The provider's authorization URL."}
            },
        }
    },
    description="Only with HALYARD_SIGNIN_VERIFIER=oidc and HALYARD_OIDC_CLIENT_ID (else 404). Otherwise "
    "text/html like the sign-in page: 400 malformed or expired, 404 unknown, 409 attached, 503 provider "
    "unreachable.",
)
describe(
    "accounts.oidc_callback",
    tags=TAGS,
    auth="none",
    errors=(401, 403, 409, 503),
    responses={200: html_response("Signed in: the account is attached to the login's auth request.")},
    description="Where the provider sends the person back with `code` and `state`. The state's login is "
    "used once; the code is exchanged with its PKCE verifier and the ID token checked (signature, iss, aud, "
    "exp, nonce). text/html pages: 400 unknown or used state / provider error / expired request, 401 "
    "AUTH_CODE_DID_NOT_VERIFY, 403 SELF_SIGNUP_DISABLED, 409 already attached, 503 provider unreachable. "
    "Without `state`: 400 QUERY_DID_NOT_VALIDATE.",
)
describe(
    "accounts.attach_account",
    tags=TAGS,
    auth="none",
    request=schemas.attach_account_schema,
    responses={200: AccountAttachedSchema},
    errors=(401, 403, 404, 409, 429, 503),
    description="`code` is the password; with HALYARD_SIGNIN_VERIFIER=oidc, an authorization code of a "
    "sign-in started at the auth request's ec:auth-request/oidc link (exchanged by the server), or an ID "
    "token. "
    "400 EMAIL_MISMATCH_DETECTED / EXPIRED_AUTH_REQUEST_DETECTED, 401 "
    "WRONG_CREDENTIALS_DETECTED / AUTH_CODE_DID_NOT_VERIFY / ACCOUNT_DEACTIVATED, 403 "
    "SELF_SIGNUP_DISABLED, 404 unknown request, 409 AUTH_REQUEST_ALREADY_ATTACHED, 429 "
    "TOO_MANY_FAILED_SIGN_INS, 503 IDENTITY_PROVIDER_UNAVAILABLE. The sign-in page's form "
    "posts the same fields as application/x-www-form-urlencoded and is answered with an HTML "
    "page.",
)
describe(
    "accounts.create_auth_token",
    tags=TAGS,
    auth="none",
    request=schemas.auth_token_request_schema,
    responses={201: AuthTokenCreatedSchema},
    errors=(401, 404),
    description="400 AUTH_REQUEST_NOT_YET_ATTACHED (poll again) or EXPIRED_AUTH_REQUEST_DETECTED; 401 "
    "ACCOUNT_DEACTIVATED; 404 unknown or already consumed. Location names the new token.",
)

# --- users ----------------------------------------------------------------------------------------
describe(
    "accounts.list_users",
    tags=TAGS,
    collection=users_collection,
    responses={200: page(AccountUserSchema, "The users the caller may see")},
)
describe("accounts.get_user", tags=TAGS, responses=USER)
describe("accounts.me", tags=TAGS, responses=USER, description="Content-Location names the user resource.")
describe(
    "accounts.update_user",
    tags=TAGS,
    auth="admin",
    request=schemas.user_update_schema,
    responses=USER,
    errors=(409,),
    description="409 USERNAME_TAKEN, or LAST_ADMIN_DETECTED when no active ADMIN would remain.",
)
describe(
    "accounts.change_password",
    tags=TAGS,
    request=schemas.password_change_schema,
    responses={204: None},
    description="Your own password (current_password needed when you have one; 400 when wrong, 429 "
    "TOO_MANY_FAILED_SIGN_INS after repeated failures) or, as ADMIN, anyone's; 403 otherwise.",
)
describe(
    "accounts.create_user_token",
    tags=TAGS,
    auth="admin",
    request=schemas.user_token_schema,
    responses={201: AuthTokenCreatedSchema},
    description="Creates a RESEARCHER account when the email is new.",
)

# --- API tokens -----------------------------------------------------------------------------------
describe(
    "accounts.list_tokens",
    tags=TAGS,
    collection=tokens_collection,
    responses={200: page(ApiTokenSchema, "The account's tokens, newest first")},
    description="The owner and ADMINs only (404 for anyone else).",
)
describe(
    "accounts.issue_token",
    tags=TAGS,
    request=schemas.new_token_schema,
    responses={201: AuthTokenCreatedSchema},
)
describe("accounts.get_token", tags=TAGS, responses={200: ApiTokenSchema})
describe("accounts.revoke_token", tags=TAGS, responses={204: None})

# --- groups ---------------------------------------------------------------------------------------
describe(
    "accounts.list_groups",
    tags=TAGS,
    collection=groups_collection,
    responses={200: page(AccountGroupSchema, "The groups the caller may see")},
)
describe(
    "accounts.create_group",
    tags=TAGS,
    auth="admin",
    request=schemas.group_schema,
    responses={201: AccountGroupSchema},
    errors=(409,),
    description="409 GROUP_NAME_TAKEN.",
)
describe("accounts.get_group", tags=TAGS, responses=GROUP)
describe(
    "accounts.rename_group",
    tags=TAGS,
    auth="admin",
    request=schemas.group_schema,
    responses=GROUP,
    errors=(409,),
    description="409 GROUP_NAME_TAKEN.",
)
describe("accounts.delete_group", tags=TAGS, auth="admin", responses={204: None})
describe(
    "accounts.add_member",
    tags=TAGS,
    auth="admin",
    request=schemas.member_schema,
    responses=GROUP,
    description="Idempotent; answers 200 with the group. 404 for an unknown account.",
)
describe(
    "accounts.remove_member",
    tags=TAGS,
    auth="admin",
    responses={204: None},
    description="404 when the account is not a member.",
)
