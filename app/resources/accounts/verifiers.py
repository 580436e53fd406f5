"""Sign-in verifiers: what proves that whoever posts attach_account owns ``email``.

``HALYARD_SIGNIN_VERIFIER`` selects one:

- ``password``: ``code`` is the account's password, checked through app/throttle.py's
  ``password_sign_in`` (per account and per client address), so this form is no easier to
  brute-force than Basic auth.
- ``oidc``: ``code`` is an OpenID Connect ID token. PyJWT checks its signature against
  the issuer's JWKS (fetched from ``HALYARD_OIDC_JWKS_URL`` and cached), ``iss``, ``aud``,
  ``exp`` and ``iat``; its ``email`` claim must equal ``email``. With
  ``HALYARD_SELF_SIGNUP`` an unknown email gets a new RESEARCHER account.

A verifier returns the Account or raises an ApiError; it writes nothing except a
self-signed-up account, and only after every check passed.
"""
import jwt
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth import CHALLENGE
from app.errors import ApiError, Forbidden, ServiceUnavailable
from app.extensions import db
from app.resources.accounts.models import Account
from app.throttle import password_sign_in

VERIFIERS = ("password", "oidc")


class CodeDidNotVerify(ApiError):
    code = 401
    event = "AUTH_CODE_DID_NOT_VERIFY"
    description = "The code does not prove this identity."

    def __init__(self, description=None, **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": CHALLENGE})
        super().__init__(description, **kwargs)


class EmailMismatch(ApiError):
    event = "EMAIL_MISMATCH_DETECTED"
    description = "The email does not match the identity the code proves."


class AccountDeactivated(CodeDidNotVerify):
    event = "ACCOUNT_DEACTIVATED"
    description = "The account is deactivated."


def verify(email, code):
    """The Account that ``code`` proves ``email`` belongs to, by the configured verifier."""
    name = current_app.config["HALYARD_SIGNIN_VERIFIER"]
    account = verify_oidc(email, code) if name == "oidc" else verify_password(email, code)
    if not account.active:
        raise AccountDeactivated()
    return account


def verify_password(email, code):
    account = find_by_email(email)
    if not password_sign_in(email, account, code):
        raise CodeDidNotVerify("The email or password is wrong.", event="WRONG_CREDENTIALS_DETECTED")
    return account


def find_by_email(email):
    return db.session.scalar(select(Account).where(Account.email == email.strip().lower()))


def jwks_client():
    """One PyJWKClient per app and JWKS URL: keys are cached, an unknown ``kid`` refetches."""
    url = current_app.config["HALYARD_OIDC_JWKS_URL"]
    key = ("halyard.oidc.jwks", url)
    client = current_app.extensions.get(key)
    if client is None:
        client = current_app.extensions[key] = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
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


def decode_id_token(code):
    """The verified claims of an ID token, or CodeDidNotVerify / 503 when the keys are unreachable."""
    config = current_app.config
    algorithms = [a.strip() for a in config["HALYARD_OIDC_ALGORITHMS"].split(",") if a.strip()]
    try:
        signing_key = jwks_client().get_signing_key_from_jwt(code)
        return jwt.decode(
            code, signing_key.key, algorithms=algorithms, audience=config["HALYARD_OIDC_AUDIENCE"],
            issuer=config["HALYARD_OIDC_ISSUER"], leeway=config["HALYARD_OIDC_LEEWAY_SECONDS"],
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWKClientConnectionError:
        raise ServiceUnavailable("The identity provider's keys could not be fetched.",
                                 event="IDENTITY_PROVIDER_UNAVAILABLE") from None
    except jwt.PyJWKClientError:
        raise CodeDidNotVerify("The ID token is signed with an unknown key.") from None
    except jwt.InvalidTokenError as exc:
        reason = next((text for cls, text in _REASONS if isinstance(exc, cls)), "The ID token is invalid.")
        raise CodeDidNotVerify(reason) from None


def verify_oidc(email, code):
    claims = decode_id_token(code)
    claimed = claims.get("email")
    if not isinstance(claimed, str) or not claimed:
        raise CodeDidNotVerify("The ID token has no email claim.")
    if claims.get("email_verified") is False:
        raise CodeDidNotVerify("The identity provider has not verified this email.")
    if claimed.strip().lower() != email.strip().lower():
        raise EmailMismatch(errors={"email": ["Does not match the email of the ID token."]})
    account = find_by_email(email)
    if account is None:
        if not current_app.config["HALYARD_SELF_SIGNUP"]:
            raise Forbidden("No account has this email and self sign-up is disabled.", event="SELF_SIGNUP_DISABLED")
        account = _sign_up(email)
    return account


def _sign_up(email):
    """Create the RESEARCHER account; a concurrent first sign-in of the same email wins the race."""
    try:
        with db.session.begin_nested():
            account = Account(email=email, type="RESEARCHER", active=True)
            db.session.add(account)
        return account
    except IntegrityError:
        return find_by_email(email)
