"""Sign-in with the OpenID Connect provider (authorization-code flow with PKCE), for seed 000's auth
requests: /accounts/auth_requests/{uuid}/authenticate/oidc/ and /accounts/auth_requests/oidc/callback/.

The sign-in page links the first, which starts a login bound to the auth request and sends the person
to the provider; the provider sends them back to the second with ``code`` and ``state``, which finds
the login by its state (once), exchanges the code, verifies the ID token and attaches the account.
A client may instead receive the code itself and post it to attach_account (signin.py). See
docs/accounts.md.
"""

from flask import current_app, redirect, request

from app.errors import ApiError, NotFound, QueryDidNotValidate
from app.extensions import db
from app.openapi import api_doc
from app.openapi.helpers import html_response
from app.representation import url
from app.resources.accounts import bp, oidc
from app.resources.accounts.models import AuthRequest
from app.resources.accounts.pages import SECURITY_HEADERS, refusal_page, signed_in_page
from app.resources.accounts.signin import attach_to, check_pending, pending_or_page
from app.resources.accounts.verifiers import account_for


class ProviderRefused(ApiError):
    event = "IDENTITY_PROVIDER_REFUSED"
    description = "The identity provider did not sign you in."


class UnknownState(ApiError):
    event = "OIDC_LOGIN_NOT_FOUND"
    description = (
        "This sign-in link is unknown or was already used. Start again from the sign-in page "
        "(or on your device)."
    )


def redirect_uri():
    return current_app.config["HALYARD_OIDC_REDIRECT_URI"] or url("accounts.oidc_callback")


@bp.get("/accounts/auth_requests/<request_uuid>/authenticate/oidc/")
@api_doc(
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
def oidc_start(request_uuid):
    """Send the person to the identity provider (302) with a new state, nonce and PKCE challenge."""
    if not oidc.code_flow_enabled():
        raise NotFound(description="Sign-in with an identity provider is not configured.")
    auth_request, refusal = pending_or_page(request_uuid)
    if refusal:
        return refusal
    try:
        target = oidc.start(auth_request, redirect_uri())
    except ApiError as exc:
        return refusal_page(exc)
    response = redirect(target, 302)
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.get("/accounts/auth_requests/oidc/callback/")
@api_doc(
    auth="none",
    errors=(401, 403, 409, 503),
    responses={200: html_response("Signed in: the account is attached to the login's auth request.")},
    description="Where the provider sends the person back with `code` and `state`. The state's login is "
    "used once; the code is exchanged with its PKCE verifier and the ID token checked (signature, iss, aud, "
    "exp, nonce). text/html pages: 400 unknown or used state / provider error / expired request, 401 "
    "AUTH_CODE_DID_NOT_VERIFY, 403 SELF_SIGNUP_DISABLED, 409 already attached, 503 provider unreachable. "
    "Without `state`: 400 QUERY_DID_NOT_VALIDATE.",
    parameters=[
        {"name": name, "in": "query", "required": True, "schema": {"type": "string", "minLength": 1}}
        | {"description": text}
        for name, text in (("state", "The login's state, as sent to the provider."), ("code", "The code."))
    ],
)
def oidc_callback():
    """Where the provider sends the person back: take the login by its state, exchange the code, attach."""
    state = request.args.get("state")
    if not state:
        raise QueryDidNotValidate(
            errors={
                "state": [
                    "Missing: this address is where the identity provider "
                    "sends you back, with a code and a state."
                ]
            }
        )
    login = oidc.take_login(state=state)
    if login is None:
        return refusal_page(UnknownState())
    try:
        auth_request = db.session.get(AuthRequest, login.auth_request_id)
        if auth_request is None:  # swept or consumed between the two statements
            raise NotFound("authrequest")
        check_pending(auth_request)
        if request.args.get("error") or not request.args.get("code"):
            error = request.args.get("error", "no code")[:64]
            raise ProviderRefused(
                f"The identity provider did not sign you in ({error}). Start again on your device."
            )
        account = account_for(oidc.claims_from_code(login, request.args["code"]))
        attach_to(auth_request, account)
    except ApiError as exc:
        db.session.rollback()
        return refusal_page(exc)
    return signed_in_page()


def init_app(app):
    """Refuse to start with settings the code flow cannot work with (called by the domain's init_app)."""
    from authlib.common.security import is_secure_transport

    config = app.config
    if config["HALYARD_SIGNIN_VERIFIER"] != "oidc":
        return
    if not config["HALYARD_OIDC_CLIENT_ID"] and not config["HALYARD_OIDC_ACCEPT_ID_TOKENS"]:
        raise ValueError(
            "HALYARD_SIGNIN_VERIFIER=oidc needs HALYARD_OIDC_CLIENT_ID or HALYARD_OIDC_ACCEPT_ID_TOKENS"
        )
    if not is_secure_transport(config["HALYARD_OIDC_ISSUER"]):
        raise ValueError("HALYARD_OIDC_ISSUER must be an https URL (http only on a loopback address)")
    scopes = config["HALYARD_OIDC_SCOPES"].split()
    if config["HALYARD_OIDC_CLIENT_ID"] and not {"openid", "email"} <= set(scopes):
        raise ValueError("HALYARD_OIDC_SCOPES must include openid and email")
