"""OpenID Connect, the client side: discovery, the authorization-code flow with PKCE, ID tokens.

Authlib's OAuth 2 client (``FlaskOAuth2App``) does the protocol: the discovery document at
``<HALYARD_OIDC_ISSUER>/.well-known/openid-configuration``, the authorization URL with a fresh state,
nonce and S256 PKCE challenge, and the token request with the client's credentials and the PKCE
verifier. PyJWT verifies every ID token (``decode_id_token``, the one door for both a pasted ID token
and one from the token endpoint): signature against the issuer's JWKS, ``iss``, ``aud``, ``exp``,
``iat``, and the nonce of the sign-in when there is one.

The state, nonce and verifier of a sign-in live in an ``OidcLogin`` row bound to its auth request;
``take_login`` deletes it as it reads it, so each is used at most once. See docs/accounts.md.
"""

import hmac
import logging
import time

import jwt
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import current_app
from sqlalchemy import delete

from app.auth import CHALLENGE
from app.errors import ApiError, ServiceUnavailable
from app.extensions import db
from app.resources.accounts.models import OidcLogin, hash_token

TIMEOUT_SECONDS = 5
METADATA_SECONDS = 3600  # how long a process keeps the discovery document before reading it again
# Authlib logs the PKCE verifier at DEBUG; it is a secret of the sign-in until the code is exchanged.
logging.getLogger("authlib.integrations.base_client.sync_app").setLevel(logging.INFO)


class CodeDidNotVerify(ApiError):
    code = 401
    event = "AUTH_CODE_DID_NOT_VERIFY"
    description = "The code does not prove this identity."

    def __init__(self, description=None, **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": CHALLENGE})
        super().__init__(description, **kwargs)


class IdentityProviderUnavailable(ServiceUnavailable):
    event = "IDENTITY_PROVIDER_UNAVAILABLE"
    description = "The identity provider could not be reached."


def code_flow_enabled(config=None):
    config = config or current_app.config
    return config["HALYARD_SIGNIN_VERIFIER"] == "oidc" and bool(config["HALYARD_OIDC_CLIENT_ID"])


def audience():
    config = current_app.config
    return config["HALYARD_OIDC_AUDIENCE"] or config["HALYARD_OIDC_CLIENT_ID"]


def provider():
    """The Authlib client of the configured provider: one per process and settings, renewed hourly."""
    config = current_app.config
    settings = tuple(config[f"HALYARD_OIDC_{n}"] for n in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET", "SCOPES"))
    issuer, client_id, secret, scopes = settings
    cached = current_app.extensions.get("halyard.oidc.provider")
    if cached and cached[0] == settings and time.monotonic() - cached[1] < METADATA_SECONDS:
        return cached[2]
    client = FlaskOAuth2App(
        FlaskIntegration("halyard"),
        name="halyard",
        client_id=client_id,
        client_secret=secret or None,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": scopes,
            "code_challenge_method": "S256",
            "default_timeout": TIMEOUT_SECONDS,
            "token_endpoint_auth_method": "client_secret_basic" if secret else "none",
        },
    )
    current_app.extensions["halyard.oidc.provider"] = (settings, time.monotonic(), client)
    return client


def metadata():
    """The provider's discovery document, checked: it must name the configured issuer and its endpoints."""
    try:
        found = provider().load_server_metadata()
    except (requests.RequestException, ValueError):
        raise IdentityProviderUnavailable(
            "The identity provider's discovery document could not be read."
        ) from None
    if found.get("issuer") != current_app.config["HALYARD_OIDC_ISSUER"]:
        raise IdentityProviderUnavailable("The identity provider's discovery document names another issuer.")
    if not all(found.get(k) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")):
        raise IdentityProviderUnavailable("The identity provider's discovery document lacks an endpoint.")
    return found


def start(auth_request, redirect_uri):
    """A new login for ``auth_request`` (replacing an earlier one); the provider URL to send the person to."""
    metadata()
    prompt = current_app.config["HALYARD_OIDC_PROMPT"]
    made = provider().create_authorization_url(redirect_uri, **({"prompt": prompt} if prompt else {}))
    db.session.execute(delete(OidcLogin).where(OidcLogin.auth_request_id == auth_request.id))
    db.session.add(
        OidcLogin(
            auth_request_id=auth_request.id,
            state_hash=hash_token(made["state"]),
            nonce=made["nonce"],
            code_verifier=made["code_verifier"],
            redirect_uri=redirect_uri,
        )
    )
    db.session.commit()
    return made["url"]


def take_login(*, state=None, auth_request=None):
    """The login with this ``state`` (the callback) or of this ``auth_request`` (attach_account), deleted in
    the same statement and committed at once, so it is used once even when what follows fails; or None."""
    where = (
        (OidcLogin.state_hash == hash_token(state))
        if state is not None
        else (OidcLogin.auth_request_id == auth_request.id)
    )
    row = db.session.execute(
        delete(OidcLogin)
        .where(where)
        .returning(
            OidcLogin.auth_request_id, OidcLogin.nonce, OidcLogin.code_verifier, OidcLogin.redirect_uri
        )
    ).first()
    db.session.commit()
    return row


def claims_from_code(login, code):
    """Exchange ``code`` with the login's PKCE verifier and redirect URI; the verified ID token's claims."""
    jwks_uri = metadata()["jwks_uri"]
    try:
        token = provider().fetch_access_token(
            redirect_uri=login.redirect_uri, code=code, code_verifier=login.code_verifier
        )
    except OAuthError as exc:
        raise CodeDidNotVerify(f"The identity provider refused the code ({str(exc.error)[:64]}).") from None
    except (requests.RequestException, ValueError):
        raise IdentityProviderUnavailable("The identity provider's token endpoint failed.") from None
    if not isinstance(token.get("id_token"), str):
        raise CodeDidNotVerify("The identity provider returned no ID token.")
    return decode_id_token(token["id_token"], nonce=login.nonce, jwks_uri=jwks_uri)


def jwks_client(url):
    """One PyJWKClient per app and JWKS URL: keys are cached, an unknown ``kid`` refetches."""
    key = ("halyard.oidc.jwks", url)
    client = current_app.extensions.get(key)
    if client is None:
        client = current_app.extensions[key] = jwt.PyJWKClient(
            url, cache_keys=True, lifespan=300, timeout=TIMEOUT_SECONDS
        )
    return client


# PyJWT's exception → what the client is told (never the token itself).
_REASONS = (
    (jwt.ExpiredSignatureError, "The ID token has expired."),
    (jwt.InvalidAudienceError, "The ID token was issued for another audience."),
    (jwt.InvalidIssuerError, "The ID token was issued by another issuer."),
    (jwt.ImmatureSignatureError, "The ID token is not valid yet."),
    (jwt.MissingRequiredClaimError, "The ID token lacks a required claim."),
    (jwt.InvalidSignatureError, "The ID token's signature does not verify."),
)


def decode_id_token(raw, nonce=None, jwks_uri=None):
    """The verified claims of an ID token (and its nonce, when the sign-in sent one), or CodeDidNotVerify."""
    config = current_app.config
    algorithms = [a.strip() for a in config["HALYARD_OIDC_ALGORITHMS"].split(",") if a.strip()]
    url = config["HALYARD_OIDC_JWKS_URL"] or jwks_uri or metadata()["jwks_uri"]
    try:
        signing_key = jwks_client(url).get_signing_key_from_jwt(raw)
        claims = jwt.decode(
            raw,
            signing_key.key,
            algorithms=algorithms,
            audience=audience(),
            issuer=config["HALYARD_OIDC_ISSUER"],
            leeway=config["HALYARD_OIDC_LEEWAY_SECONDS"],
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWKClientConnectionError:
        raise IdentityProviderUnavailable("The identity provider's keys could not be fetched.") from None
    except jwt.PyJWKClientError:
        raise CodeDidNotVerify("The ID token is signed with an unknown key.") from None
    except jwt.InvalidTokenError as exc:
        reason = next((text for cls, text in _REASONS if isinstance(exc, cls)), "The ID token is invalid.")
        raise CodeDidNotVerify(reason) from None
    if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
        raise CodeDidNotVerify("The ID token's nonce is not the one this sign-in sent.")
    # OIDC Core 3.1.3.7: with several audiences, the authorized party must be this client.
    if isinstance(claims["aud"], list) and len(claims["aud"]) > 1 and claims.get("azp") != audience():
        raise CodeDidNotVerify("The ID token was issued for another audience.")
    return claims


def is_id_token(code):
    """Whether ``code`` is shaped like a JWT (an ID token) rather than an opaque authorization code."""
    try:
        jwt.get_unverified_header(code)
    except jwt.InvalidTokenError:
        return False
    return True
