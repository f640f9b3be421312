"""A real OpenID provider on loopback, built from Authlib's server side (authorization code flow + OpenID Connect
extension), for the sign-in tests: discovery document, JWKS, an authorize page where the test picks a user, a
token endpoint that issues RS256-signed ID tokens. Users carry Entra-style `groups` (object IDs) and `roles`
(app roles). Served on http://localhost:<port> so its cookies never mix with the app's on 127.0.0.1.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from markupsafe import escape
from werkzeug.serving import make_server

CLIENT_ID = "samldebug-test-client"
CLIENT_SECRET = secrets.token_urlsafe(24)
ENGINEERS = "5f0c1a2b-0000-4000-8000-000000000001"  # an Entra group object ID
SALES = "5f0c1a2b-0000-4000-8000-000000000002"


@dataclass
class User:
    id: str
    name: str
    email: str
    groups: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def get_user_id(self) -> str:
        return self.id


USERS = {
    "alice": User("u-alice", "Alice Support", "alice@contoso.example", [ENGINEERS], ["Debugger.Use"]),
    "bob": User("u-bob", "Bob Sales", "bob@contoso.example", [SALES], []),
}


@dataclass
class Client:
    redirect_uris: list[str]
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "profile", "email"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post") if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    nonce: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Provider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-signing-key", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, Code] = {}
        self.client = Client(redirect_uris=[])
        self.issuer = ""
        self.issued: list[dict[str, Any]] = []  # claims of every ID token issued (for assertions)

    def app(self) -> Flask:
        provider = self
        app = Flask("oidc_provider")
        app.config.update(SECRET_KEY=secrets.token_hex(16), SESSION_COOKIE_NAME="provider_session")

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                provider.codes[code] = Code(
                    code,
                    req.client.get_client_id(),
                    req.payload.redirect_uri,
                    req.payload.scope,
                    req.user,
                    req.payload.data.get("nonce"),
                    int(time.time()),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found is not None and found.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> User:
                return authorization_code.user

        class IDToken(OpenIDCode):
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": "test-signing-key"}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.get_client_id()], "exp": int(time.time()) + 600}

            def generate_user_info(self, user: User, scope: str) -> UserInfo:
                info = UserInfo(sub=user.id, name=user.name, preferred_username=user.email, email=user.email)
                info["groups"], info["roles"] = user.groups, user.roles
                provider.issued.append(dict(info))
                return info

        server = AuthorizationServer(
            app,
            query_client=lambda cid: provider.client if cid == CLIENT_ID else None,
            save_token=lambda token, req: None,
        )
        server.register_grant(CodeGrant, [IDToken(require_nonce=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                {
                    "issuer": provider.issuer,
                    "authorization_endpoint": provider.issuer + "/authorize",
                    "token_endpoint": provider.issuer + "/token",
                    "jwks_uri": provider.issuer + "/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                    "scopes_supported": ["openid", "profile", "email"],
                }
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify({"keys": [provider.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize_page() -> Any:
            grant = server.get_consent_grant(end_user=None)
            buttons = "".join(
                f'<button type="submit" name="user" value="{name}">Sign in as {u.email}</button>'
                for name, u in USERS.items()
            )
            hidden = "".join(
                f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in request.args.items()
            )
            return (
                f"<!doctype html><link rel='icon' href='data:,'><title>Test IdP</title><h1>Test IdP: {grant.client.get_client_id()}</h1>"
                f'<form method="post" action="/authorize">{hidden}{buttons}</form>'
            )

        @app.post("/authorize")
        def authorize() -> Any:
            user = USERS.get(request.form.get("user", ""))
            return server.create_authorization_response(grant_user=user)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        return app


@contextmanager
def running_provider() -> Iterator[Provider]:
    provider = Provider()
    server = make_server("127.0.0.1", 0, provider.app(), threaded=True)
    provider.issuer = f"http://localhost:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(5)
