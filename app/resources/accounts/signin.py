"""Device-style sign-in (seed 000): /accounts/auth_requests/, …/{uuid}/, …/{uuid}/authenticate/ui/,
/accounts/auth_requests/attach_account/ and /accounts/auth_tokens/.

A client creates an auth request, sends a person to its UI page, and polls auth_tokens
until the person has proved who they are (attach_account); the first successful poll
gets an API token and consumes the request. See docs/accounts.md.
"""

import uuid

from flask import current_app, request, url_for
from marshmallow import ValidationError
from sqlalchemy import delete, select, update

from app.errors import ApiError, Conflict, NotFound, TooManyRequests
from app.extensions import db
from app.hal import Document, Property, Template
from app.jobs import get_redis
from app.openapi import api_doc
from app.openapi.helpers import html_response
from app.representation import created, load_body, respond, url
from app.resources.accounts import bp, schemas
from app.resources.accounts.models import AuthRequest
from app.resources.accounts.oidc import code_flow_enabled
from app.resources.accounts.openapi import AccountAttachedSchema, AuthRequestSchema, AuthTokenCreatedSchema
from app.resources.accounts.pages import form_page, page, refusal_page, signed_in_page
from app.resources.accounts.represent import signin_token_ttl, token_created
from app.resources.accounts.schemas import attach_account_schema, auth_token_request_schema
from app.resources.accounts.verifiers import AccountDeactivated, verify
from app.timeutil import rfc3339, utcnow


class ExpiredAuthRequest(ApiError):
    event = "EXPIRED_AUTH_REQUEST_DETECTED"
    description = "The auth request has expired; create a new one."
    page_text = ("Sign-in request expired", "This sign-in request has expired. Start again on your device.")


class NotYetAttached(ApiError):
    event = "AUTH_REQUEST_NOT_YET_ATTACHED"
    description = "Nobody has signed in on this auth request yet; poll again shortly."


class AlreadyAttached(Conflict):
    event = "AUTH_REQUEST_ALREADY_ATTACHED"
    description = "Somebody has already signed in on this auth request."
    page_text = (
        "Already signed in",
        "Somebody has already signed in with this request. Return to your device.",
    )


def represent(auth_request):
    """An auth request: its uuid, UI page, state and expiry; never the account it is attached to."""
    ui = url("accounts.authenticate_ui", request_uuid=auth_request.uuid)
    # the property is the path, as seed 000 shows it (its clients join it to their base URL); the
    # ec:auth-request/ui link carries the absolute URL
    ui_path = url_for("accounts.authenticate_ui", request_uuid=auth_request.uuid)
    state = "expired" if auth_request.expired else ("attached" if auth_request.account_id else "pending")
    doc = Document(
        {
            "@type": "auth_request",
            "request_uuid": auth_request.uuid,
            "authenticate_ui_uri": ui_path,
            "status": state,
            "expires": rfc3339(auth_request.expires_at),
        },
        self_href=url("accounts.get_auth_request", request_uuid=auth_request.uuid),
    )
    doc.link("ec:auth-request/ui", ui, type="text/html", title="Sign in here")
    doc.link("ec:auth-request/attach", url("accounts.attach_account"))
    if code_flow_enabled():
        doc.link(
            "ec:auth-request/oidc",
            url("accounts.oidc_start", request_uuid=auth_request.uuid),
            type="text/html",
            title=f"Sign in with {current_app.config['HALYARD_OIDC_PROVIDER_NAME']}",
        )
    doc.link("ec:auth-tokens", url("accounts.create_auth_token"))
    doc.template(
        "token",
        Template(
            method="POST",
            target=url("accounts.create_auth_token"),
            title="Exchange for a token once signed in",
            properties=[Property("request_uuid", required=True, value=auth_request.uuid)],
        ),
    )
    return doc


def find_auth_request(raw_uuid):
    """The auth request with this public uuid, or None (a malformed uuid finds nothing)."""
    try:
        key = str(uuid.UUID(str(raw_uuid)))
    except ValueError:
        return None
    return db.session.scalar(select(AuthRequest).where(AuthRequest.uuid == key))


def get_auth_request_or_404(raw_uuid):
    auth_request = find_auth_request(raw_uuid)
    if auth_request is None:
        raise NotFound("authrequest")
    return auth_request


def limit_creation_rate():
    """At most HALYARD_AUTH_REQUESTS_PER_MINUTE new requests per client address (a fixed one-minute
    window)."""
    limit = current_app.config["HALYARD_AUTH_REQUESTS_PER_MINUTE"]
    if not limit:
        return
    key = f"{current_app.config['HALYARD_QUEUE_PREFIX']}:auth-requests:addr:{request.remote_addr}"
    pipe = get_redis().pipeline()
    pipe.set(key, 0, ex=60, nx=True)  # the window starts with the first request (INCR keeps the TTL)
    pipe.incr(key)
    pipe.ttl(key)
    _, count, ttl = pipe.execute()
    if count > limit:
        raise TooManyRequests(
            "Too many sign-in requests from this address; wait a minute.",
            event="TOO_MANY_AUTH_REQUESTS",
            headers={"Retry-After": str(max(ttl, 1))},
        )


@bp.post("/accounts/auth_requests/")
@api_doc(
    auth="none",
    request=None,
    responses={201: AuthRequestSchema},
    errors=(429,),
    description="No credentials and no body. 429 TOO_MANY_AUTH_REQUESTS past "
    "HALYARD_AUTH_REQUESTS_PER_MINUTE per client address.",
)
def create_auth_request():
    """Start a sign-in: 201 AUTH_REQUEST_CREATED (no credentials needed); sweeps expired requests."""
    limit_creation_rate()
    AuthRequest.sweep()
    auth_request = AuthRequest(uuid=str(uuid.uuid4()))
    db.session.add(auth_request)
    db.session.commit()
    doc = represent(auth_request)
    doc.properties = {"@event": "AUTH_REQUEST_CREATED", **doc.properties}
    return created(doc)


@bp.get("/accounts/auth_requests/<uuid:request_uuid>/")
@api_doc(
    auth="none",
    responses={200: AuthRequestSchema},
    description="404 for an unknown (or malformed) uuid and once a token consumed the request.",
)
def get_auth_request(request_uuid):
    """The state of an auth request (pending, attached, expired)."""
    return respond(represent(get_auth_request_or_404(request_uuid)))


@bp.get("/accounts/auth_requests/<request_uuid>/authenticate/ui/")
@api_doc(
    auth="none",
    errors=(409,),
    responses={200: html_response("The sign-in form.")},
    description="Always text/html: 400 for a malformed or expired request, 404 unknown, 409 already "
    "attached (each as a page).",
)
def authenticate_ui(request_uuid):
    """The HTML page where a person signs in for a waiting client.

    200 for any uuid, as seed 000 documents it (its example asks for ``some-uuid``): a person opened a
    link, and the page says why nobody can sign in with it (malformed, unknown, expired, used)."""
    auth_request, refusal = pending_or_page(request_uuid)
    if refusal is not None:
        refusal.status_code = 200
        return refusal
    return form_page(auth_request.uuid)


def pending_or_page(request_uuid):
    """(the pending auth request, None), or (None, the HTML page saying why nobody can sign in with it)."""
    try:
        uuid.UUID(str(request_uuid))
    except ValueError:
        return None, page(
            "accounts/message.html",
            400,
            title="Not a sign-in link",
            message="This address does not contain a valid sign-in request id.",
        )
    auth_request = find_auth_request(request_uuid)
    if auth_request is None:
        return None, page(
            "accounts/message.html",
            404,
            title="Sign-in request not found",
            message=("This sign-in request does not exist or was already used. Start again on your device."),
        )
    try:
        check_pending(auth_request)
    except (ExpiredAuthRequest, AlreadyAttached) as exc:
        return None, refusal_page(exc)
    return auth_request, None


def check_pending(auth_request):
    """Raise unless somebody may still sign in on ``auth_request``."""
    if auth_request.expired:
        raise ExpiredAuthRequest()
    if auth_request.account_id is not None:
        raise AlreadyAttached()


@bp.post("/accounts/auth_requests/attach_account/")
@api_doc(
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
def attach_account():
    """Prove an identity with ``code`` and attach that account: 200 ACCOUNT_TO_AUTH_REQUEST_ATTACHED."""
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return attach_from_form()
    data = load_body(attach_account_schema)
    auth_request = attach(data)
    doc = Document(
        {"@event": "ACCOUNT_TO_AUTH_REQUEST_ATTACHED", "@type": "empty"},
        self_href=url("accounts.get_auth_request", request_uuid=auth_request.uuid),
    )
    doc.link("ec:auth-tokens", url("accounts.create_auth_token"))
    return respond(doc, etag=False)


def attach(data):
    """Check the request, verify the code, attach the account — or raise, having written nothing (but a
    started OpenID Connect login is used up by its first code)."""
    auth_request = get_auth_request_or_404(data["request_uuid"])
    check_pending(auth_request)
    attach_to(auth_request, verify(data["email"], data["code"], auth_request))
    return auth_request


def attach_to(auth_request, account):
    """Attach ``account`` and commit, unless somebody else attached one first (AlreadyAttached)."""
    db.session.flush()  # a self-signed-up account needs its id
    # Conditional: of two concurrent sign-ins on one request, only the first attaches.
    result = db.session.execute(
        update(AuthRequest)
        .where(AuthRequest.id == auth_request.id, AuthRequest.account_id.is_(None))
        .values(account_id=account.id, attached_at=utcnow())
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise AlreadyAttached()
    db.session.commit()


def attach_from_form():
    """The built-in page's form post: the same checks, answered with an HTML page."""
    raw = request.form.to_dict()
    try:
        data = attach_account_schema.load(raw)
    except ValidationError as exc:
        problems = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.messages.items()]
        return form_page(raw.get("request_uuid", ""), 400, errors=problems, email=raw.get("email", ""))
    try:
        attach(data)
    except ApiError as exc:
        db.session.rollback()
        if isinstance(exc, (NotFound, ExpiredAuthRequest, AlreadyAttached)):
            return refusal_page(exc)
        headers = {k: v for k, v in exc.get_headers() if k == "Retry-After"}
        response = form_page(
            str(data["request_uuid"]), exc.code, errors=[exc.description], email=data["email"]
        )
        response.headers.update(headers)
        return response
    return signed_in_page()


@bp.post("/accounts/auth_tokens/")
@api_doc(
    auth="none",
    request=schemas.auth_token_request_schema,
    responses={201: AuthTokenCreatedSchema},
    errors=(401, 404),
    description="400 AUTH_REQUEST_NOT_YET_ATTACHED (poll again) or EXPIRED_AUTH_REQUEST_DETECTED; 401 "
    "ACCOUNT_DEACTIVATED; 404 unknown or already consumed. Location names the new token.",
)
def create_auth_token():
    """Exchange an attached auth request for a token (201 AUTH_TOKEN_CREATED); consumes the request."""
    data = load_body(auth_token_request_schema)
    auth_request = get_auth_request_or_404(data["request_uuid"])
    if auth_request.expired:
        raise ExpiredAuthRequest()
    if auth_request.account_id is None:
        raise NotYetAttached()
    account = auth_request.account
    # Single use: only the poll that deletes the row gets a token.
    result = db.session.execute(
        delete(AuthRequest).where(AuthRequest.id == auth_request.id, AuthRequest.account_id.is_not(None))
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise NotFound("authrequest")
    if not account.active:
        db.session.commit()
        raise AccountDeactivated()
    token, secret = account.issue_token(name="sign-in", ttl_seconds=signin_token_ttl())
    db.session.commit()
    return respond(
        token_created(token, secret),
        201,
        {
            "Location": url("accounts.get_token", user_id=account.id, token_id=token.id),
            "Cache-Control": "no-store",
        },
        etag=False,
    )
