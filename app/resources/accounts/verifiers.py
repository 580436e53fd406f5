"""Sign-in verifiers: what proves that whoever posts attach_account owns ``email``.

``HALYARD_SIGNIN_VERIFIER`` selects one:

- ``password``: ``code`` is the account's password, checked through app/throttle.py's
  ``password_sign_in`` (per account and per client address), so this form is no easier to
  brute-force than Basic auth.
- ``oidc``: ``code`` is an authorization code of the OpenID Connect provider, from a sign-in started
  for this auth request (``oidc.py`` exchanges it with that sign-in's PKCE verifier and checks the ID
  token, its nonce included), or, unless ``HALYARD_OIDC_ACCEPT_ID_TOKENS`` is off, an ID token itself.

An identity maps to an Account by its verified email (``account_for``, also used by the sign-in
page's callback); an unknown email gets a new RESEARCHER account with ``HALYARD_SELF_SIGNUP``, else
403. A verifier returns the Account or raises an ApiError; it writes nothing except a self-signed-up
account, and only after every check passed (an authorization code's login is used up either way).
"""

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import ApiError, Forbidden
from app.extensions import db
from app.resources.accounts import oidc
from app.resources.accounts.models import Account
from app.resources.accounts.oidc import CodeDidNotVerify
from app.throttle import password_sign_in

VERIFIERS = ("password", "oidc")


class EmailMismatch(ApiError):
    event = "EMAIL_MISMATCH_DETECTED"
    description = "The email does not match the identity the code proves."


class AccountDeactivated(CodeDidNotVerify):
    event = "ACCOUNT_DEACTIVATED"
    description = "The account is deactivated."


def verify(email, code, auth_request):
    """The Account that ``code`` proves ``email`` belongs to, by the configured verifier."""
    name = current_app.config["HALYARD_SIGNIN_VERIFIER"]
    if name == "oidc":
        return account_for(oidc_claims(code, auth_request), email)
    return usable(verify_password(email, code))


def usable(account):
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


def oidc_claims(code, auth_request):
    """The verified claims ``code`` stands for: an ID token's own, or those of the ID token the provider
    gives for an authorization code of the sign-in started for ``auth_request``."""
    config = current_app.config
    if not oidc.code_flow_enabled(config) or oidc.is_id_token(code):  # without a client id, only ID tokens
        if not config["HALYARD_OIDC_ACCEPT_ID_TOKENS"]:
            raise CodeDidNotVerify("ID tokens are not accepted here; sign in through the identity provider.")
        return oidc.decode_id_token(code)
    login = oidc.take_login(auth_request=auth_request)
    if login is None:
        raise CodeDidNotVerify(
            "No sign-in with the identity provider was started for this auth request (or "
            "it was used): start one at its ec:auth-request/oidc link.",
            event="OIDC_LOGIN_NOT_FOUND",
        )
    return oidc.claims_from_code(login, code)


def account_for(claims, email=None):
    """The active Account of the identity's verified email (created when self sign-up allows); ``email``,
    when given, must be that email."""
    claimed = claims.get("email")
    if not isinstance(claimed, str) or not claimed:
        raise CodeDidNotVerify("The ID token has no email claim.")
    if claims.get("email_verified") not in (True, "true"):  # a boolean; some providers send a string
        raise CodeDidNotVerify("The identity provider has not verified this email.")
    if email is not None and claimed.strip().lower() != email.strip().lower():
        raise EmailMismatch(errors={"email": ["Does not match the email of the ID token."]})
    account = find_by_email(claimed)
    if account is None:
        if not current_app.config["HALYARD_SELF_SIGNUP"]:
            raise Forbidden(
                "No account has this email and self sign-up is disabled.", event="SELF_SIGNUP_DISABLED"
            )
        account = _sign_up(claimed.strip().lower())
    return usable(account)


def _sign_up(email):
    """Create the RESEARCHER account; a concurrent first sign-in of the same email wins the race."""
    try:
        with db.session.begin_nested():
            account = Account(email=email, type="RESEARCHER", active=True)
            db.session.add(account)
        return account
    except IntegrityError:
        return find_by_email(email)
