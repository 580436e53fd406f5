"""Users (seed 003): /api/v1/user/, /api/v1/user/{id}/, …/{id}/password/, /api/v1/user/token/,
/accounts/me/."""

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.auth import admin_required, current_account, login_required
from app.errors import BodyDidNotValidate, Conflict, Forbidden
from app.extensions import db
from app.hal import Collection, Field
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, load_body, no_content, paginate, respond, url
from app.resources.accounts import bp, schemas
from app.resources.accounts.models import ACCOUNT_TYPES, Account, membership_filter
from app.resources.accounts.openapi import USER, AccountUserSchema, AuthTokenCreatedSchema
from app.resources.accounts.represent import (
    get_user_or_404,
    represent_user,
    signin_token_ttl,
    token_created,
    visible_users,
)
from app.resources.accounts.schemas import password_change_schema, user_token_schema, user_update_schema
from app.resources.accounts.verifiers import find_by_email
from app.throttle import password_sign_in

users_collection = Collection(
    rel="ec:users",
    item_rel="ec:user",
    fields=[
        Field("id", Account.id, type="int", sortable=True),
        Field("email", Account.email, sortable=True),
        Field("username", Account.username, sortable=True),
        Field("type", Account.type, type="enum", choices=ACCOUNT_TYPES, sortable=True),
        Field("active", Account.active, type="bool"),
        Field("group", type="int", range=False, filter=membership_filter("account")),
        Field("created", Account.created, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("id",),
    tiebreak=Account.id,
)


class LastAdmin(Conflict):
    event = "LAST_ADMIN_DETECTED"
    description = "This change would leave no active ADMIN account."


@bp.get("/api/v1/user/")
@login_required
@api_doc(
    collection=users_collection, responses={200: page(AccountUserSchema, "The users the caller may see")}
)
def list_users():
    """Users the caller may see, with the collection grammar (limit/offset or page/size)."""
    viewer = current_account()
    return paginate(
        users_collection,
        visible_users(viewer),
        url("accounts.list_users"),
        lambda accounts: [represent_user(a, viewer) for a in accounts],
        single=lambda account: represent_user(account, viewer),
    )


@bp.get("/api/v1/user/<int:user_id>/")
@login_required
@api_doc(responses=USER)
def get_user(user_id):
    """One user."""
    viewer = current_account()
    return respond(represent_user(get_user_or_404(user_id, viewer), viewer))


@bp.get("/accounts/me/")
@login_required
@api_doc(responses=USER, description="Content-Location names the user resource.")
def me():
    """The caller's own account (its self link is the user resource)."""
    viewer = current_account()
    return respond(
        represent_user(viewer, viewer),
        headers={"Content-Location": url("accounts.get_user", user_id=viewer.id)},
    )


@bp.patch("/api/v1/user/<int:user_id>/")
@admin_required
@api_doc(
    auth="admin",
    request=schemas.user_update_schema,
    responses=USER,
    errors=(409,),
    description="409 USERNAME_TAKEN, or LAST_ADMIN_DETECTED when no active ADMIN would remain.",
)
def update_user(user_id):
    """ADMIN: change username, type or active (deactivation stops the account's tokens at once)."""
    viewer = current_account()
    account = get_user_or_404(user_id, viewer)
    data = load_body(user_update_schema)
    check_preconditions(represent_user(account, viewer))
    if "username" in data and data["username"] != account.username and data["username"] is not None:
        if db.session.scalar(select(Account.id).where(Account.username == data["username"])):
            raise Conflict(errors={"username": ["Already taken."]}, event="USERNAME_TAKEN")
    if (
        account.is_admin
        and account.active
        and (data.get("type", "ADMIN") != "ADMIN" or data.get("active") is False)
    ):
        others = db.session.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.type == "ADMIN", Account.active.is_(True), Account.id != account.id)
        )
        if not others:
            raise LastAdmin()
    if "username" in data:
        account.username = data["username"]
    if "type" in data and data["type"] != account.type:
        account.type = data["type"]
        account.credentials_version += 1
    if data.get("active") is False and account.active:
        account.deactivate()
    elif data.get("active") is True and not account.active:
        account.reactivate()
    db.session.commit()
    return respond(represent_user(account, viewer))


@bp.post("/api/v1/user/<int:user_id>/password/")
@login_required
@api_doc(
    request=schemas.password_change_schema,
    responses={204: None},
    description="Your own password (current_password needed when you have one; 400 when wrong, 429 "
    "TOO_MANY_FAILED_SIGN_INS after repeated failures) or, as ADMIN, anyone's; 403 otherwise.",
)
def change_password(user_id):
    """Change a password: your own (current_password needed when you have one), or anyone's as ADMIN."""
    viewer = current_account()
    account = get_user_or_404(user_id, viewer)
    if account.id != viewer.id and not viewer.is_admin:
        raise Forbidden("You may change only your own password.")
    data = load_body(password_change_schema)
    if account.id == viewer.id and account.password_hash:
        if not password_sign_in(account.email, account, data.get("current_password") or ""):
            raise BodyDidNotValidate(errors={"current_password": ["Wrong password."]})
    account.set_password(data["new_password"])
    db.session.commit()
    return no_content()


@bp.post("/api/v1/user/token/")
@admin_required
@api_doc(
    auth="admin",
    request=schemas.user_token_schema,
    responses={201: AuthTokenCreatedSchema},
    description="Creates a RESEARCHER account when the email is new.",
)
def create_user_token():
    """ADMIN (seed 003): a new token for the account with this email, creating the account if needed."""
    data = load_body(user_token_schema)
    account = find_by_email(data["email"])
    if account is None:
        try:
            with db.session.begin_nested():
                account = Account(email=data["email"], type="RESEARCHER", active=True)
                db.session.add(account)
        except IntegrityError:
            account = find_by_email(data["email"])
    token, secret = account.issue_token(name="user-token", ttl_seconds=signin_token_ttl())
    db.session.commit()
    doc = token_created(token, secret)
    return respond(doc, 201, {"Location": doc.self_href, "Cache-Control": "no-store"}, etag=False)
