"""The sign-in pages (seed 000's authenticate UI): small self-contained HTML, no script, strict CSP.

The page a person signs in on, the pages that say why they cannot, and the one that says they are
signed in; signin.py (password, pasted ID token) and signin_oidc.py (the OpenID Connect redirect) use them.
"""

from flask import current_app, render_template

from app.representation import url
from app.resources.accounts.oidc import code_flow_enabled

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def page(template, status, **context):
    body = render_template(template, **context)
    return current_app.response_class(body, status=status, mimetype="text/html", headers=SECURITY_HEADERS)


def form_page(request_uuid, status=200, errors=(), email=""):
    """The sign-in page: "Sign in with <provider>" with the OIDC code flow, else the form (password or
    ID token)."""
    config = current_app.config
    start = url("accounts.oidc_start", request_uuid=request_uuid) if code_flow_enabled() else None
    return page(
        "accounts/authenticate.html",
        status,
        title="Sign in to Halyard",
        action=url("accounts.attach_account"),
        request_uuid=request_uuid,
        errors=list(errors),
        email=email,
        oidc=config["HALYARD_SIGNIN_VERIFIER"] == "oidc",
        oidc_start=start,
        provider_name=config["HALYARD_OIDC_PROVIDER_NAME"],
    )


def refusal_page(exc):
    """The page for an ApiError: its own ``page_text`` (title, message) where it has one."""
    title, message = getattr(exc, "page_text", ("Cannot sign in", exc.description))
    return page("accounts/message.html", exc.code, title=title, message=message)


def signed_in_page():
    return page(
        "accounts/message.html",
        200,
        title="Signed in",
        message="You are signed in. Return to your device; it will continue on its own.",
    )
