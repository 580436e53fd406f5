"""A user's own API tokens: /api/v1/user/{id}/tokens/ and /api/v1/user/{id}/tokens/{token_id}/.

The owner and ADMINs may list, issue and revoke; anyone else gets 404. A token's
secret appears only in the 201 that issues it.
"""

from flask import current_app, g
from sqlalchemy import false, select, true

from app.auth import caller_scopes, current_account, login_required
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.hal import Collection, Field, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, load_body, no_content, paginate, respond, url
from app.resources.accounts import bp, schemas
from app.resources.accounts.models import ApiToken
from app.resources.accounts.openapi import ApiTokenSchema, AuthTokenCreatedSchema
from app.resources.accounts.represent import (
    get_token_or_404,
    get_user_or_404,
    may_manage_tokens,
    represent_token,
    token_created,
)
from app.resources.accounts.schemas import new_token_schema


def _revoked(op, values):
    wanted = set(values) if op != "ne" else {True, False} - set(values)
    if len(wanted) != 1:
        return true() if wanted else false()
    return ApiToken.revoked_at.is_not(None) if True in wanted else ApiToken.revoked_at.is_(None)


tokens_collection = Collection(
    rel="ec:user/tokens",
    item_rel="ec:api-token",
    fields=[
        Field("id", ApiToken.id, type="int", sortable=True),
        Field("name", ApiToken.name, sortable=True),
        Field("revoked", type="bool", filter=_revoked),
        Field("created", ApiToken.created, type="datetime", sortable=True),
        Field("expires", ApiToken.expires_at, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("-created",),
    tiebreak=ApiToken.id,
)


def get_token_owner_or_404(user_id):
    viewer = current_account()
    account = get_user_or_404(user_id, viewer)
    if not may_manage_tokens(viewer, account):
        raise NotFound("account")
    return account


@bp.get("/api/v1/user/<int:user_id>/tokens/")
@login_required
@api_doc(
    collection=tokens_collection,
    responses={200: page(ApiTokenSchema, "The account's tokens, newest first")},
    description="The owner and ADMINs only (404 for anyone else).",
)
def list_tokens(user_id):
    """The account's tokens (metadata only), newest first."""
    account = get_token_owner_or_404(user_id)
    stmt = select(ApiToken).where(ApiToken.account_id == account.id)
    current = getattr(g, "token", None)
    return paginate(
        tokens_collection,
        stmt,
        url("accounts.list_tokens", user_id=account.id),
        lambda tokens: [represent_token(t, current) for t in tokens],
        single=lambda token: represent_token(token, current),
        links={"up": url("accounts.get_user", user_id=account.id)},
        templates={
            "default": Template(
                method="POST", title="Issue an API token", properties=properties_from_schema(new_token_schema)
            )
        },
    )


@bp.post("/api/v1/user/<int:user_id>/tokens/")
@login_required
@api_doc(request=schemas.new_token_schema, responses={201: AuthTokenCreatedSchema})
def issue_token(user_id):
    """Issue a named token (201; the secret is in this response only)."""
    account = get_token_owner_or_404(user_id)
    data = load_body(new_token_schema)
    ttl = data.get("ttl_seconds") or current_app.config["HALYARD_TOKEN_DEFAULT_TTL_SECONDS"] or None
    scopes = data.get("scopes") or caller_scopes()
    beyond = sorted(set(scopes) - set(caller_scopes()))
    if beyond:  # a token cannot hand out more than the credential that issues it
        raise Forbidden(
            f"The credential used lacks the scopes {', '.join(beyond)}; a new token cannot have them.",
            event="INSUFFICIENT_SCOPE",
        )
    token, secret = account.issue_token(name=data["name"], ttl_seconds=ttl, scopes=scopes)
    db.session.commit()
    doc = token_created(token, secret)
    return respond(doc, 201, {"Location": doc.self_href, "Cache-Control": "no-store"}, etag=False)


@bp.get("/api/v1/user/<int:user_id>/tokens/<int:token_id>/")
@login_required
@api_doc(responses={200: ApiTokenSchema})
def get_token(user_id, token_id):
    """One token's metadata."""
    token = get_token_or_404(get_token_owner_or_404(user_id), token_id)
    return respond(represent_token(token, getattr(g, "token", None)))


@bp.delete("/api/v1/user/<int:user_id>/tokens/<int:token_id>/")
@login_required
@api_doc(responses={204: None})
def revoke_token(user_id, token_id):
    """Revoke a token by deleting it; it stops working at once (the caller's own one included)."""
    token = get_token_or_404(get_token_owner_or_404(user_id), token_id)
    check_preconditions(represent_token(token, getattr(g, "token", None)))
    db.session.delete(token)
    db.session.commit()
    return no_content()
