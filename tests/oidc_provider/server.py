"""A small, real OpenID Connect provider for the tests: Authlib's authorization server in a Flask app.

``python -m tests.oidc_provider.server --client-id ID --client-secret SECRET`` binds a free port of
127.0.0.1, prints ``READY <port>`` and serves:

- ``/.well-known/openid-configuration`` (discovery) and ``/jwks.json`` (its own RSA key, made at start);
- ``/authorize``: the authorization-code flow; PKCE (S256) and a nonce are required; the configured
  test user is approved at once (no login page), and the request is recorded;
- ``/token``: client_secret_basic, the code is single-use and bound to its redirect URI and PKCE
  challenge, and the response carries an ID token signed by Authlib's OpenIDCode extension.

Test-only controls (this process listens on 127.0.0.1 only): ``POST /_test/config`` sets the user, the
registered redirect URIs and a misbehaviour of the next ID tokens (``nonce``, ``expired``, ``audience``,
``issuer``, ``foreign_key``); ``GET /_test/log`` returns the recorded authorize and token requests.
"""

import argparse
import sys
import threading
import time

from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, redirect, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

KID = "test-provider-key"
SCOPES = "openid email profile"


class State:
    """Everything the provider keeps, in memory (one process, one lock)."""

    def __init__(self, client_id, client_secret):
        self.lock = threading.Lock()
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})
        self.foreign_key = RSAKey.generate_key(2048, parameters={"kid": KID})  # same kid, not in the JWKS
        self.issuer = ""
        self.redirect_uris = []
        self.user = {"sub": "user-1", "email": "person@example.org", "email_verified": True}
        self.misbehave = None
        self.codes = {}
        self.log = {"authorize": [], "token": []}


class Client(ClientMixin):
    def __init__(self, state):
        self.state = state

    def get_client_id(self):
        return self.state.client_id

    def get_default_redirect_uri(self):
        return None  # redirect_uri is required in every request

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in SCOPES.split())

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.state.redirect_uris

    def check_client_secret(self, client_secret):
        return client_secret == self.state.client_secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


class Code(dict):
    """An issued authorization code and what it was issued for (AuthorizationCodeMixin)."""

    def get_redirect_uri(self):
        return self["redirect_uri"]

    def get_scope(self):
        return self["scope"]

    def get_nonce(self):
        return self["nonce"]

    def get_auth_time(self):
        return self["auth_time"]

    def get_acr(self):
        return None

    def get_amr(self):
        return None

    def is_expired(self):
        return time.time() > self["auth_time"] + 60


def build_app(state):
    app = Flask(__name__)

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

        def save_authorization_code(self, code, req):
            with state.lock:
                state.codes[code] = Code(
                    code=code,
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.scope,
                    nonce=req.payload.data.get("nonce"),
                    auth_time=int(time.time()),
                    user=dict(state.user),
                    code_challenge=req.payload.data.get("code_challenge"),
                    code_challenge_method=req.payload.data.get("code_challenge_method"),
                )

        def query_authorization_code(self, code, client):
            item = state.codes.get(code)
            return None if item is None or item.is_expired() else item

        def delete_authorization_code(self, authorization_code):
            with state.lock:
                state.codes.pop(authorization_code["code"], None)

        def authenticate_user(self, authorization_code):
            return authorization_code["user"]

    class Challenge(CodeChallenge):
        def get_authorization_code_challenge(self, authorization_code):
            return authorization_code["code_challenge"]

        def get_authorization_code_challenge_method(self, authorization_code):
            return authorization_code["code_challenge_method"]

    class IdToken(OpenIDCode):
        def resolve_client_private_key(self, client):
            return state.foreign_key if state.misbehave == "foreign_key" else state.key

        def get_encode_header(self, client):
            return {"alg": "RS256", "kid": KID}

        def get_client_claims(self, client):
            now = int(time.time())
            claims = {"iss": state.issuer, "aud": [client.get_client_id()], "iat": now, "exp": now + 300}
            if state.misbehave == "expired":
                claims.update(iat=now - 1200, exp=now - 600, auth_time=now - 1200)
            elif state.misbehave == "audience":
                claims["aud"] = ["some-other-client"]
            elif state.misbehave == "issuer":
                claims["iss"] = "http://127.0.0.1:9/another-issuer"
            return claims

        def get_authorization_code_claims(self, authorization_code):
            claims = super().get_authorization_code_claims(authorization_code)
            if state.misbehave == "nonce":
                claims["nonce"] = "not-the-nonce-that-was-sent"
            return claims

        def exists_nonce(self, nonce, req):
            return any(c["nonce"] == nonce for c in state.codes.values())

        def generate_user_info(self, user, scope):
            return UserInfo(**user)

    server = AuthorizationServer(
        app,
        query_client=lambda client_id: Client(state) if client_id == state.client_id else None,
        save_token=lambda token, req: None,
    )
    server.register_grant(CodeGrant, [Challenge(required=True), IdToken(require_nonce=True)])

    @app.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify(
            {
                "issuer": state.issuer,
                "authorization_endpoint": state.issuer + "/authorize",
                "token_endpoint": state.issuer + "/token",
                "jwks_uri": state.issuer + "/jwks.json",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": SCOPES.split(),
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code"],
            }
        )

    @app.get("/jwks.json")
    def jwks():
        return jsonify({"keys": [state.key.as_dict(private=False)]})

    @app.get("/authorize")
    def authorize():
        state.log["authorize"].append(request.args.to_dict())
        redirect_uri = request.args.get("redirect_uri")
        if not request.args.get("code_challenge") and redirect_uri in state.redirect_uris:
            # PKCE is required of every client here; the error goes back to the client (RFC 6749 4.1.2.1)
            return redirect(
                add_params_to_uri(
                    redirect_uri,
                    {
                        "error": "invalid_request",
                        "state": request.args.get("state", ""),
                        "error_description": "PKCE is required: send code_challenge (S256).",
                    },
                )
            )
        return server.create_authorization_response(grant_user=dict(state.user))

    @app.post("/token")
    def token():
        state.log["token"].append({k: v for k, v in request.form.items() if k != "code"})
        return server.create_token_response()

    @app.post("/_test/config")
    def configure():
        body = request.get_json()
        with state.lock:
            if "user" in body:
                state.user = body["user"]
            if "redirect_uris" in body:
                state.redirect_uris = body["redirect_uris"]
            if "misbehave" in body:
                state.misbehave = body["misbehave"]
            if body.get("clear_log"):
                state.log = {"authorize": [], "token": []}
        return jsonify({"ok": True})

    @app.post("/_test/code-without-pkce")
    def code_without_pkce():
        """Issue a code the way a provider that skipped PKCE would (for the refusal test)."""
        code = generate_token(40)
        body = request.get_json()
        with state.lock:
            state.codes[code] = Code(
                code=code,
                redirect_uri=body["redirect_uri"],
                scope=SCOPES,
                nonce=body.get("nonce"),
                auth_time=int(time.time()),
                user=dict(state.user),
                code_challenge=None,
                code_challenge_method=None,
            )
        return jsonify({"code": code})

    @app.get("/_test/log")
    def log():
        return jsonify(state.log)

    return app


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    args = parser.parse_args(argv)
    state = State(args.client_id, args.client_secret)
    server = make_server("127.0.0.1", 0, build_app(state), threaded=True)
    state.issuer = f"http://127.0.0.1:{server.server_port}"
    print(f"READY {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
