"""Account, Group and ApiToken: the identity model shared by every domain (DESIGN.md §6)."""

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Table, delete, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import IDS_NEVER_REUSED, db
from app.timeutil import utcnow

ACCOUNT_TYPES = ("ADMIN", "RESEARCHER")
TOKEN_PREFIX = "hy_"
# What a token may do (docs/operations.md "Token scopes"): read = GET/HEAD, write = every other method,
# admin = the ADMIN-only routes and an ADMIN's wider rights elsewhere, metrics = /metrics.
SCOPES = ("read", "write", "admin", "metrics")
ALL_SCOPES = " ".join(SCOPES)


def admin_scope_allows(account_id):
    """False while this request is authenticated as ``account_id`` by a token without the admin scope
    (app/auth.py sets ``g.token_scopes``); True otherwise (other callers, Basic, the CLI)."""
    if not has_request_context():
        return True
    scopes, caller = g.get("token_scopes"), g.get("account")
    return scopes is None or caller is None or caller.id != account_id or "admin" in scopes


account_groups = Table(
    "account_groups",
    db.metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    # The primary key leads with account_id; this index serves "members of group X".
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    username: Mapped[str | None] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(32), default="RESEARCHER", index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped whenever credentials or standing change, so cached sign-ins are dropped at once.
    credentials_version: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    groups: Mapped[list["Group"]] = relationship(secondary=account_groups, back_populates="members")
    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="account", cascade="all, delete-orphan")

    @validates("email")
    def _normalise_email(self, key, value):
        return value.strip().lower()

    @property
    def is_admin(self):
        return self.type == "ADMIN" and admin_scope_allows(self.id)

    def set_password(self, password):
        method = current_app.config["HALYARD_PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)
        self.credentials_version = (self.credentials_version or 0) + 1

    def check_password(self, password):
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def deactivate(self):
        self.active = False
        self.credentials_version = (self.credentials_version or 0) + 1

    def reactivate(self):
        self.active = True
        self.credentials_version = (self.credentials_version or 0) + 1

    def issue_token(self, name="api", ttl_seconds=None, scopes=SCOPES):
        """Create a token with ``scopes`` (default: all, today's full rights); return (ApiToken, secret).
        Only the secret's hash is stored."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = None
        if ttl_seconds:
            expires = utcnow() + timedelta(seconds=ttl_seconds)
        token = ApiToken(
            account=self,
            name=name,
            token_hash=hash_token(secret),
            expires_at=expires,
            scopes=" ".join(s for s in SCOPES if s in scopes),
        )
        db.session.add(token)
        return token, secret

    @classmethod
    def find_login(cls, login):
        """The account whose email (stored lower-case) or username is ``login``."""
        if "\0" in login:  # no account has one, and PostgreSQL refuses NUL in a query (a Basic login)
            return None
        return db.session.scalar(select(cls).where((cls.email == login.lower()) | (cls.username == login)))

    def __repr__(self):
        return f"<Account {self.id} {self.email}>"


class Group(db.Model):
    __tablename__ = "groups"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    members: Mapped[list[Account]] = relationship(secondary=account_groups, back_populates="groups")


def membership_filter(subject):
    """A collection filter hook over ``account_groups``: ``subject="account"`` gives the users
    filter ``group=<ids>`` (accounts in one of those groups), ``subject="group"`` the groups filter
    ``member=<ids>`` (groups with one of those accounts); ``ne`` keeps the rows with none."""
    model, own, other = {
        "account": (Account, account_groups.c.account_id, account_groups.c.group_id),
        "group": (Group, account_groups.c.group_id, account_groups.c.account_id),
    }[subject]

    def clause(op, values):
        ids = select(own).where(other.in_(values))
        return model.id.not_in(ids) if op == "ne" else model.id.in_(ids)

    return clause


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="api")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    scopes: Mapped[str] = mapped_column(String(64), default=ALL_SCOPES, server_default=ALL_SCOPES)

    account: Mapped[Account] = relationship(back_populates="tokens")

    @property
    def scope_list(self):
        return self.scopes.split()

    def revoke(self):
        self.revoked_at = self.revoked_at or utcnow()


class AuthRequest(db.Model):
    """A device-style sign-in in progress (seed 000): created, attached to an account, consumed.

    ``uuid`` is the public id: a random UUID4 (122 random bits), so knowing one request
    does not help guess another. A request expires ``HALYARD_AUTH_REQUEST_TTL_SECONDS``
    after ``created`` (read at check time, so shortening the setting applies at once)
    and is deleted when its token is issued or when it is swept after expiry.
    """

    __tablename__ = "auth_requests"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    attached_at: Mapped[datetime | None] = mapped_column(DateTime)

    account: Mapped[Account | None] = relationship()

    @staticmethod
    def ttl():
        return timedelta(seconds=current_app.config["HALYARD_AUTH_REQUEST_TTL_SECONDS"])

    @property
    def expires_at(self):
        return self.created + self.ttl()

    @property
    def expired(self):
        return self.expires_at <= utcnow()

    @classmethod
    def sweep(cls):
        """Delete every expired request (one DELETE on the ``created`` index); return how many."""
        result = db.session.execute(delete(cls).where(cls.created <= utcnow() - cls.ttl()))
        return result.rowcount or 0


class OidcLogin(db.Model):
    """An OpenID Connect sign-in under way for an auth request: what the callback needs and only it knows.

    ``state`` is stored as its SHA-256 (the callback looks it up); ``nonce`` and the PKCE
    ``code_verifier`` are sent back to the provider and so kept as they are. One per auth request (a new
    start replaces it), gone with its auth request, and deleted by the first callback or attach_account
    that uses it: each state, nonce and verifier is used once.
    """

    __tablename__ = "oidc_logins"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    auth_request_id: Mapped[int] = mapped_column(
        ForeignKey("auth_requests.id", ondelete="CASCADE"), unique=True
    )
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def hash_token(secret):
    """Tokens are 256-bit random strings, so one SHA-256 is a safe and fast lookup key."""
    return hashlib.sha256(secret.encode()).hexdigest()
