"""Representations of accounts, groups and API tokens — the only place their links are built.

Other domains embed an account with ``embed_account(account)``; users, groups and
tokens views (users.py, groups.py, tokens.py) render with ``represent_*`` here.
"""

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.errors import NotFound
from app.extensions import db
from app.hal import Document, Template, properties_from_schema
from app.representation import url
from app.resources import choices
from app.resources.accounts.models import Account, ApiToken, Group, account_groups
from app.resources.accounts.schemas import (
    group_schema,
    member_schema,
    new_token_schema,
    password_change_schema,
    user_update_schema,
)
from app.resources.root import url_template
from app.timeutil import rfc3339


def embed_account(account):
    """Seed 000's account shape ``{"@type": "account", "id", "email", "type"}`` plus ``_links.self``.

    The one function other domains call to show who created, owns or maintains something.
    """
    return Document(
        {"@type": "account", "id": account.id, "email": account.email, "type": account.type},
        self_href=url("accounts.get_user", user_id=account.id),
    )


# --- who may see what -------------------------------------------------------------------------


def directory_public():
    return current_app.config["HALYARD_USER_DIRECTORY_PUBLIC"]


def visible_users(viewer):
    stmt = select(Account).options(selectinload(Account.groups))  # one extra query per page, not per user
    return stmt if viewer.is_admin or directory_public() else stmt.where(Account.id == viewer.id)


def visible_groups(viewer):
    stmt = select(Group).options(selectinload(Group.members))
    if viewer.is_admin or directory_public():
        return stmt
    mine = select(account_groups.c.group_id).where(account_groups.c.account_id == viewer.id)
    return stmt.where(Group.id.in_(mine))


def get_user_or_404(user_id, viewer):
    account = db.session.scalar(visible_users(viewer).where(Account.id == user_id))
    if account is None:
        raise NotFound("account")
    return account


def get_group_or_404(group_id, viewer):
    group = db.session.scalar(visible_groups(viewer).where(Group.id == group_id))
    if group is None:
        raise NotFound("group")
    return group


def may_manage_tokens(viewer, account):
    return viewer.is_admin or viewer.id == account.id


# --- users ------------------------------------------------------------------------------------


def represent_user(account, viewer):
    """A user (seed 003's ``email``, ``username``, ``groups``, ``url`` plus ``id``, ``type``, ``active``)."""
    self_href = url("accounts.get_user", user_id=account.id)
    groups = sorted(account.groups, key=lambda g: g.id)
    if not (viewer.is_admin or directory_public() or viewer.id == account.id):
        groups = []  # never reached today (such a viewer cannot see the user), kept as a guard
    group_hrefs = [url("accounts.get_group", group_id=g.id) for g in groups]
    doc = Document(
        {
            "@type": "account",
            "id": account.id,
            "email": account.email,
            "username": account.username,
            "type": account.type,
            "active": account.active,
            "groups": group_hrefs,
            "url": self_href,
            "created": rfc3339(account.created),
        },
        self_href=self_href,
    )
    doc.link("collection", url("accounts.list_users"))
    doc.links("ec:user/groups", group_hrefs)
    if may_manage_tokens(viewer, account):
        tokens = url("accounts.list_tokens", user_id=account.id)
        doc.link("ec:user/tokens", tokens)
        doc.template(
            "issue-token",
            Template(
                method="POST",
                target=tokens,
                title="Issue an API token",
                properties=properties_from_schema(new_token_schema),
            ),
        )
        doc.template(
            "change-password",
            Template(
                method="POST",
                target=url("accounts.change_password", user_id=account.id),
                title="Change the password",
                properties=properties_from_schema(password_change_schema),
            ),
        )
    if viewer.is_admin:
        doc.template(
            "default",
            Template(
                method="PATCH",
                title="Change username, type or active",
                properties=properties_from_schema(user_update_schema, partial=True),
            ),
        )
    return doc


# --- groups -----------------------------------------------------------------------------------


def represent_group(group, viewer):
    """A group (seed 003's ``name`` and ``url``) with its members as links."""
    self_href = url("accounts.get_group", group_id=group.id)
    members = sorted(group.members, key=lambda a: a.id)
    doc = Document(
        {
            "id": group.id,
            "name": group.name,
            "url": self_href,
            "member_count": len(members),
            "created": rfc3339(group.created),
        },
        self_href=self_href,
    )
    doc.link("collection", url("accounts.list_groups"))
    doc.links("ec:user", [url("accounts.get_user", user_id=m.id) for m in members])
    doc.link("ec:group/members", url("accounts.list_users", group=group.id))
    if viewer.is_admin:
        members_href = url("accounts.add_member", group_id=group.id)
        doc.link(
            "ec:group/member",
            url_template("accounts.remove_member", {"user_id": "user_id"}, group_id=group.id),
            templated=True,
            title="DELETE removes that member",
        )
        doc.template(
            "default", Template(method="PUT", title="Rename", properties=properties_from_schema(group_schema))
        )
        doc.template("delete", Template(method="DELETE", title="Delete the group"))
        doc.template(
            "add-member",
            Template(
                method="POST",
                target=members_href,
                title="Add a member",
                properties=properties_from_schema(member_schema, options={"user_id": choices.users()}),
            ),
        )
    return doc


def group_form():
    return Template(method="POST", title="Create a group", properties=properties_from_schema(group_schema))


# --- tokens -----------------------------------------------------------------------------------


def represent_token(token, current=None):
    """An API token's metadata; the secret is shown once, by the response that creates it."""
    self_href = url("accounts.get_token", user_id=token.account_id, token_id=token.id)
    doc = Document(
        {
            "@type": "api_token",
            "id": token.id,
            "name": token.name,
            "created": rfc3339(token.created),
            "expires": rfc3339(token.expires_at),
            "revoked": rfc3339(token.revoked_at),
            "scopes": token.scope_list,
            "current": current is not None and current.id == token.id,
        },
        self_href=self_href,
    )
    doc.link("collection", url("accounts.list_tokens", user_id=token.account_id))
    doc.link("ec:account", url("accounts.get_user", user_id=token.account_id))
    doc.template("delete", Template(method="DELETE", title="Revoke (delete) this token"))
    return doc


def token_created(token, secret, *, event="AUTH_TOKEN_CREATED"):
    """The one response that carries a token's secret (seed 000/003's ``token``)."""
    doc = represent_token(token)
    doc.properties = {
        "@event": event,
        "@type": "auth_token",
        "token": secret,
        **{k: v for k, v in doc.properties.items() if k not in ("@type", "current")},
    }
    return doc.embed("ec:account", embed_account(token.account))


def get_token_or_404(account, token_id):
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.account_id == account.id)
    )
    if token is None:
        raise NotFound("apitoken")
    return token


def signin_token_ttl():
    config = current_app.config
    return config["HALYARD_SIGNIN_TOKEN_TTL_SECONDS"] or config["HALYARD_TOKEN_DEFAULT_TTL_SECONDS"] or None
