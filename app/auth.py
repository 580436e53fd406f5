"""Authentication: Basic, Bearer and Token schemes on one MultiAuth (DESIGN.md §6).

- ``Authorization: Basic`` with email or username + password. A successful check is
  remembered briefly in-process, keyed by an HMAC of the credentials (never the
  credentials themselves) and tied to the account's ``credentials_version``, so a
  password hash is not recomputed on every request and a password change or a
  deactivation takes effect at once.
- ``Bearer <token>`` and ``Token <token>``: API tokens, looked up by SHA-256.
- Both schemes check the credential with one indexed Core query (no ORM load) that
  also reads the account's standing, so revocation, expiry and deactivation apply to
  the very next request. The caller is a lightweight ``Principal`` (id, type); the ORM
  ``Account`` is loaded only when a view asks for it with ``current_account()``.
- Failed sign-ins are counted in Redis per account and per client address (app/throttle.py);
  past ``HALYARD_LOGIN_MAX_FAILURES`` in ``HALYARD_LOGIN_WINDOW_SECONDS`` every attempt gets
  429 until the window ends, whatever the password, and before the Basic cache is consulted.

- Tokens carry scopes (``read``, ``write``, ``admin``, ``metrics``); ``check_scope`` is the one place
  that checks them, right after a token is accepted: ``read`` for GET/HEAD/OPTIONS, ``write`` for the
  other methods, and the scope a view names with ``requires_scope`` instead (``admin_required`` views
  need ``admin``). A missing scope is 403 ``INSUFFICIENT_SCOPE``. A token without ``admin`` also takes an
  ADMIN account's wider rights elsewhere away (``Account.is_admin``). Basic credentials have every scope.

Views use ``login_required``, ``admin_required`` or ``optional_auth`` and read the
caller with ``current_account()`` (the ORM Account, loaded on first use) or, on hot
read paths that need only the id and type, ``current_principal()``.
"""

import functools
import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from sqlalchemy import bindparam, select
from sqlalchemy.orm import make_transient_to_detached

from app.ctx import current_app, g, g_object, request_object
from app.errors import Forbidden, Unauthorized, problem_response
from app.extensions import auth, basic_auth, bearer_auth, core_connection, db, token_auth
from app.fastread import FastRead
from app.resources.accounts.models import (
    SCOPES,
    TOKEN_PREFIX,
    Account,
    ApiToken,
    admin_scope_allows,
    hash_token,
)
from app.throttle import password_sign_in, throttle
from app.timeutil import utcnow

CHALLENGE = 'Bearer realm="Halyard", Token realm="Halyard", Basic realm="Halyard"'

login_required = auth.login_required
optional_auth = auth.login_required(optional=True)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def requires_scope(scope):
    """Mark a view as needing token scope ``scope`` instead of read/write by method (outermost decorator
    below the route)."""

    def mark(view):
        view.required_scope = scope
        return view

    return mark


def admin_required(view):
    """ADMIN accounts only; a token also needs the ``admin`` scope."""
    return requires_scope("admin")(auth.login_required(role="ADMIN")(view))


class Principal:
    """The authenticated caller as the credential check saw it: the account's id and type.

    Any other attribute (``email``, ``groups``, ...) is read from the ORM Account, which is then
    built on first use (``current_account()``), so code that treats ``g.account`` as the account
    keeps working while the hot paths never pay for it.
    """

    __slots__ = ("id", "type")

    def __init__(self, account_id, account_type):
        self.id, self.type = account_id, account_type

    @property
    def is_admin(self):
        return self.type == "ADMIN" and admin_scope_allows(self.id)

    def __getattr__(self, name):  # only for attributes a Principal does not have itself
        account = current_account() if not name.startswith("__") else None
        if account is None or account.id != self.id:
            raise AttributeError(name)
        return getattr(account, name)


def current_principal():
    """The authenticated caller of this request (``Principal``), or None. Costs no query."""
    return getattr(g, "account", None)


def current_account():
    """The authenticated Account of this request, or None (loaded from the database on first use)."""
    account = getattr(g, "account_model", None)
    if account is None:
        row = getattr(g, "account_row", None)
        if row is not None:
            account = g.account_model = _attach(
                {attr: getattr(row, column.key) for attr, column in _account_attrs()}
            )
    return account


def _attach(values):
    """The ORM Account for the row the credential check read, put into the session without a query."""
    session = db.session
    existing = session.identity_map.get(session.identity_key(Account, values["id"]))
    if existing is not None:
        return existing
    account = Account(**values)
    make_transient_to_detached(account)  # as if loaded by a query: clean, persistent once added
    session.add(account)
    return account


def _authenticated(row, *, model=None, token_id=None):
    """Record the caller: ``g.account`` the Principal (errors.py reads its ``id`` for ``user_id``),
    ``g.account_model`` the ORM Account when already loaded (or ``g.account_row`` to build it from),
    ``g.token`` the token used (its ``id``)."""
    context = g_object()  # one context lookup for the three attributes
    principal = context.account = Principal(row.id, row.type)
    if model is not None:
        context.account_model = model
    else:
        context.account_row = row
    if token_id is not None:
        context.token = TokenRef(token_id)
    return principal


def caller_scopes():
    """The scopes of this request's credential: a token's own, every scope for Basic or no token."""
    scopes = g.get("token_scopes")
    return SCOPES if scopes is None else tuple(s for s in SCOPES if s in scopes)


def token_has_scope(scope):
    """Whether this request's credential grants ``scope`` (Basic credentials grant every scope)."""
    scopes = g.get("token_scopes")
    return scope in SCOPES and (scopes is None or scope in scopes)  # scope in caller_scopes(), unbuilt


def required_scope():
    """The scope this request needs: the view's own (``requires_scope``), else read or write by method."""
    req = request_object()  # one context lookup for endpoint and method
    marked = getattr(current_app.view_functions.get(req.endpoint), "required_scope", None)
    return marked or ("read" if req.method in READ_METHODS else "write")


def check_scope():
    """403 INSUFFICIENT_SCOPE when the token used lacks the scope this request needs."""
    needed = required_scope()
    if not token_has_scope(needed):
        raise Forbidden(
            f"This token lacks the {needed!r} scope this request needs (it has: "
            f"{', '.join(caller_scopes()) or 'none'}).",
            event="INSUFFICIENT_SCOPE",
        )


class TokenRef:
    """The API token that authenticated this request (only its id is needed: "current" in token lists)."""

    __slots__ = ("id",)

    def __init__(self, token_id):
        self.id = token_id


_accounts, _tokens = Account.__table__, ApiToken.__table__.c


@functools.cache
def _account_attrs():
    """(attribute, column) pairs of Account; computed on first use, since reading them configures every
    mapper and the other domains' models are not imported yet when this module is."""
    return [(attr.key, attr.columns[0]) for attr in Account.__mapper__.column_attrs]


# Statements built once and compiled once per dialect (FastRead, docs/decisions.md 21); both hit
# unique/primary keys.
# They read the whole account row, so current_account() can build the ORM object without another query.
_TOKEN_CHECK = FastRead(
    select(
        _tokens.id.label("token_id"),
        _tokens.revoked_at,
        _tokens.expires_at,
        _tokens.scopes.label("token_scopes"),
        *_accounts.c,
    )
    .join_from(ApiToken.__table__, _accounts, _accounts.c.id == _tokens.account_id)
    .where(_tokens.token_hash == bindparam("token_hash"))
)
_ACCOUNT_BY_ID = FastRead(select(*_accounts.c).where(_accounts.c.id == bindparam("account_id")))


class _VerifiedCache:
    """A small thread-safe LRU of recently verified Basic credentials."""

    def __init__(self, size=1024):
        self.size = size
        self.items = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            hit = self.items.get(key)
            if hit is None or hit[2] < time.monotonic():
                self.items.pop(key, None)
                return None
            self.items.move_to_end(key)
            return hit

    def put(self, key, account_id, version, ttl):
        with self.lock:
            self.items[key] = (account_id, version, time.monotonic() + ttl)
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self):
        with self.lock:
            self.items.clear()


verified_cache = _VerifiedCache()


def _credential_key(login, password):
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{login}\0{password}".encode(), hashlib.sha256).hexdigest()


@basic_auth.verify_password
def verify_password(login, password):
    """Basic: the throttle comes first, so a locked account or address is 429 even for a cached credential."""
    if not login:
        return None
    ttl = current_app.config["HALYARD_BASIC_CACHE_SECONDS"]
    key = _credential_key(login, password)
    hit = verified_cache.get(key) if ttl else None
    if hit:
        throttle().check(login, hit[0])
        row = _ACCOUNT_BY_ID.first(core_connection(), {"account_id": hit[0]})
        if row is not None and row.active and row.credentials_version == hit[1]:
            return _authenticated(row)
    account = Account.find_login(login)
    if not password_sign_in(login, account, password):
        g.auth_event = "WRONG_CREDENTIALS_DETECTED"
        return None
    if not account.active:
        g.auth_event = "ACCOUNT_DEACTIVATED"
        return None
    if ttl:
        verified_cache.put(key, account.id, account.credentials_version, ttl)
    return _authenticated(account, model=account)


@bearer_auth.verify_token
@token_auth.verify_token
def verify_token(secret):
    if not secret:
        return None
    if not secret.startswith(TOKEN_PREFIX):  # not Halyard's (seed 000's own eyJ… example): no such token
        g.auth_event = "COULD_NOT_FIND_AUTH_TOKEN"
        return None
    row = _TOKEN_CHECK.first(core_connection(), {"token_hash": hash_token(secret)})
    if row is None:
        g.auth_event = "COULD_NOT_FIND_AUTH_TOKEN"
        return None
    if row.revoked_at is not None:
        g.auth_event = "AUTH_TOKEN_REVOKED"
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        g.auth_event = "AUTH_TOKEN_EXPIRED"
        return None
    if not row.active:
        g.auth_event = "ACCOUNT_DEACTIVATED"
        return None
    principal = _authenticated(row, token_id=row.token_id)
    g.token_scopes = frozenset(row.token_scopes.split())
    check_scope()
    return principal


@basic_auth.get_user_roles
@bearer_auth.get_user_roles
@token_auth.get_user_roles
def user_roles(principal):
    return [principal.type]


EVENT_DETAILS = {
    "COULD_NOT_FIND_AUTH_TOKEN": "Credentials are missing or no such token exists.",
    "WRONG_CREDENTIALS_DETECTED": "The login or password is wrong.",
    "AUTH_TOKEN_REVOKED": "The token has been revoked.",
    "AUTH_TOKEN_EXPIRED": "The token has expired.",
    "ACCOUNT_DEACTIVATED": "The account is deactivated.",
}


@basic_auth.error_handler
@bearer_auth.error_handler
@token_auth.error_handler
def auth_error(status):
    if status == 403:
        return problem_response(Forbidden())
    event = getattr(g, "auth_event", "COULD_NOT_FIND_AUTH_TOKEN")
    return problem_response(
        Unauthorized(EVENT_DETAILS[event], event=event, headers={"WWW-Authenticate": CHALLENGE})
    )
