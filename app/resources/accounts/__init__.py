"""Accounts: device-style sign-in (seed 000), users, groups and tokens (seed 003).

The models (Account, Group, ApiToken, AuthRequest) are shared by every domain;
``represent.embed_account(account)`` is how other domains show an account.
Routes: signin.py, users.py, groups.py, tokens.py; docs/accounts.md is the reference.
"""

import click
from flask import Blueprint
from flask.cli import with_appcontext

from app.extensions import db
from app.hal import Template, properties_from_schema
from app.resources.accounts import schemas
from app.resources.accounts.models import AuthRequest
from app.resources.accounts.schemas import auth_token_request_schema, user_token_schema
from app.resources.root import document_relations, register_entries, register_entry

bp = Blueprint("accounts", __name__)

RELATIONS = {
    "auth-requests": (
        "Auth requests",
        ("POST",),
        "POST (no credentials) starts a device-style sign-in: 201 "
        "AUTH_REQUEST_CREATED with request_uuid and the UI page a person signs in on.",
    ),
    "auth-request/ui": (
        "Sign-in page",
        ("GET",),
        "The text/html page where a person signs in for a waiting client.",
    ),
    "auth-request/attach": (
        "Attach account",
        ("POST",),
        "POST {code, email, request_uuid}: prove an identity and "
        "attach it to the auth request (JSON or the page's form post).",
    ),
    "auth-request/oidc": (
        "Sign in with the identity provider",
        ("GET",),
        "text/html: redirects the person "
        "to "
        "the OpenID Connect provider (authorization code with PKCE) for this auth request; "
        "the provider sends them back to Halyard's callback, which attaches the account.",
    ),
    "auth-tokens": (
        "Auth tokens",
        ("POST",),
        "POST {request_uuid}: 201 AUTH_TOKEN_CREATED {token} once an account "
        "is attached (400 AUTH_REQUEST_NOT_YET_ATTACHED before); consumes the request.",
    ),
    "users": (
        "Users",
        ("GET",),
        "Accounts (seed 003 /api/v1/user/) with the collection grammar; filters id, email, "
        "username, type, active, group, created; limit/offset or page/size.",
    ),
    "user": (
        "User",
        ("GET", "PATCH"),
        "One account: email, username, groups, url, type, active. ADMINs PATCH "
        "username/type/active; the owner gets change-password and issue-token templates.",
    ),
    "user/by-id": ("User by id", ("GET",), "Templated link to one user."),
    "user/groups": ("User's groups", ("GET",), "The groups an account belongs to (array of links)."),
    "user/token": (
        "Token for an email",
        ("POST",),
        "ADMIN, seed 003: POST {email} → 201 {token}; creates the account when the email is new.",
    ),
    "user/tokens": (
        "Account's tokens",
        ("GET", "POST"),
        "The owner's (or, for ADMINs, anyone's) API tokens, "
        "metadata only; POST {name, ttl_seconds} issues one.",
    ),
    "api-token": (
        "API token",
        ("GET", "DELETE"),
        "One API token's metadata (name, created, expires, revoked, "
        "current); DELETE revokes it at once. The secret is shown only when issued.",
    ),
    "groups": (
        "Groups",
        ("GET", "POST"),
        "Groups (seed 003 /api/v1/group/) with the collection grammar; ADMINs POST {name}.",
    ),
    "group": (
        "Group",
        ("GET", "PUT", "DELETE"),
        "One group: name, url, member links. ADMINs rename (PUT), delete, add members (POST members/).",
    ),
    "group/by-id": ("Group by id", ("GET",), "Templated link to one group."),
    "group/members": ("Group members", ("GET",), "The users collection filtered to this group's members."),
    "group/member": ("Group membership", ("DELETE",), "ADMIN: DELETE removes that account from the group."),
    "account": (
        "Account",
        ("GET",),
        "An embedded account {@type: account, id, email, type}; self is the user.",
    ),
    "users/options": (
        "Users grammar",
        ("GET",),
        "Templated link showing every paging, sort and filter variable of the users collection.",
    ),
    "groups/options": (
        "Groups grammar",
        ("GET",),
        "Templated link showing every variable of the groups collection.",
    ),
    "user/tokens/options": (
        "Tokens grammar",
        ("GET",),
        "Templated link showing every variable of a token list.",
    ),
    "me": ("Current account", ("GET",), "The caller's own user resource."),
}

# The links of GET /: rel -> (endpoint, title, path variables of a templated link).
ENTRIES = {
    "ec:users": ("accounts.list_users", "Users", None),
    "ec:user/by-id": ("accounts.get_user", "A user by id", {"user_id": "id"}),
    "ec:groups": ("accounts.list_groups", "Groups", None),
    "ec:group/by-id": ("accounts.get_group", "A group by id", {"group_id": "id"}),
    "ec:me": ("accounts.me", "Your own account", None),
}
# The links of GET / one only POSTs to: rel -> (endpoint, title, form title, body schema or None).
POST_ENTRIES = {
    "ec:auth-requests": ("accounts.create_auth_request", "Start a sign-in (POST)", "Start a sign-in", None),
    "ec:auth-tokens": (
        "accounts.create_auth_token",
        "Exchange a sign-in for a token (POST)",
        "Exchange an attached sign-in for a token",
        auth_token_request_schema,
    ),
    "ec:user/token": (
        "accounts.create_user_token",
        "ADMIN: a token for an email (POST)",
        "ADMIN: a token for an email (the account is made if needed)",
        user_token_schema,
    ),
}


def init_app(app):
    # deferred: the route modules import bp from this package
    from app.resources.accounts import (  # noqa: F401  (routes)
        groups,
        signin,
        signin_oidc,
        tokens,
        users,
    )

    # deferred: verifiers -> oidc -> app.auth, which imports this package (through accounts.models)
    from app.resources.accounts.verifiers import VERIFIERS

    verifier = app.config["HALYARD_SIGNIN_VERIFIER"]
    if verifier not in VERIFIERS:
        raise ValueError(f"HALYARD_SIGNIN_VERIFIER must be one of {VERIFIERS}, not {verifier!r}")
    if verifier == "oidc":
        missing = [n for n in ("HALYARD_OIDC_ISSUER",) if not app.config[n]]
        if not (app.config["HALYARD_OIDC_CLIENT_ID"] or app.config["HALYARD_OIDC_AUDIENCE"]):
            missing.append("HALYARD_OIDC_CLIENT_ID (or HALYARD_OIDC_AUDIENCE)")
        if missing:
            raise ValueError(f"HALYARD_SIGNIN_VERIFIER=oidc needs {', '.join(missing)}")
        signin_oidc.init_app(app)
    app.register_blueprint(bp)
    register_entries(app, ENTRIES)
    for rel, (endpoint, title, form_title, schema) in POST_ENTRIES.items():
        register_entry(app, rel, endpoint, title=title, template=_post_form(form_title, schema))
    document_relations(RELATIONS, _body_properties())
    app.cli.add_command(accounts_cli)


def _post_form(title, schema):
    """The HAL-FORMS template of a link one only POSTs to; ``schema`` (or None: no body) gives its fields."""
    return lambda: Template(
        method="POST", title=title, properties=properties_from_schema(schema) if schema else []
    )


def _body_properties():
    """The request-body properties of the relations that accept one, from the validating schemas."""
    return {
        "auth-request/attach": properties_from_schema(schemas.attach_account_schema),
        "auth-tokens": properties_from_schema(schemas.auth_token_request_schema),
        "user": properties_from_schema(schemas.user_update_schema, partial=True),
        "user/token": properties_from_schema(schemas.user_token_schema),
        "user/tokens": properties_from_schema(schemas.new_token_schema),
        "groups": properties_from_schema(schemas.group_schema),
        "group": properties_from_schema(schemas.group_schema),
    }


accounts_cli = click.Group("accounts", help="Accounts maintenance.")


@accounts_cli.command("sweep-auth-requests")
@with_appcontext
def sweep_auth_requests():
    """Delete expired sign-in (auth) requests."""

    count = AuthRequest.sweep()
    db.session.commit()
    click.echo(f"Deleted {count} expired auth request(s).")
