"""Who may use the page (`SAMLDEBUG_AUTH`): off (the default: a page on a trusted internal network), `proxy` or
`oidc`.

- `proxy`: an authenticating reverse proxy (oauth2-proxy, nginx auth_request, …) signs users in and passes the
  user in a header (`SAMLDEBUG_AUTH_PROXY_HEADER`, default `X-Auth-Request-Email`). The header is believed only on
  a request whose direct peer is one of `SAMLDEBUG_AUTH_PROXY_ADDRESSES`; the same header from any other address is
  refused (403): otherwise anyone who reaches the instance directly could name themselves.
- `oidc`: built-in OpenID Connect sign-in with Authlib's Flask client (authorization code flow, nonce, the ID
  token's signature checked against the provider's published keys). Microsoft Entra ID is the documented example
  (docs/operations.md); an optional list of allowed groups or app roles is checked against the ID token.

Always reachable without sign-in: /healthz, static files, the sign-in routes, and deleting a report with its
delete token (the token is the capability; scripts have no browser session). Permalinks stay capability links;
`SAMLDEBUG_AUTH_PERMALINKS` makes opening one require sign-in too.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session, url_for

log = logging.getLogger("samldebug.web")

MODES = ("off", "proxy", "oidc")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

bp = Blueprint("auth", __name__)


class AuthConfigError(ValueError):
    """A sign-in setting that cannot work: the app refuses to start rather than run open by accident."""


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]


def parse_networks(value: str) -> tuple[Network, ...]:
    networks: list[Network] = []
    for item in _split(value):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise AuthConfigError(f"SAMLDEBUG_AUTH_PROXY_ADDRESSES: {item!r} is not an address or network") from None
    return tuple(networks)


def _in(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in n for n in networks)


def peer_address() -> str:
    """The direct peer of this connection, before any X-Forwarded-For rewriting (ProxyFix keeps the original)."""
    orig = request.environ.get("werkzeug.proxy_fix.orig") or {}
    value = orig.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR") or ""
    return str(value)


def current_user() -> str | None:
    """The signed-in user's name (e-mail / UPN / subject) for this request, None when sign-in is off."""
    user: str | None = g.get("samldebug_user")
    return user


def mode() -> str:
    value: str = current_app.config["SAMLDEBUG"].auth
    return value


def _public() -> bool:
    """Requests that never need sign-in."""
    endpoint = request.endpoint or ""
    if endpoint in ("api.health", "static") or endpoint.startswith("auth."):
        return True
    if endpoint in ("share.delete", "share.delete_confirm", "api.api_delete"):
        return True  # the delete token is the capability (scripts have no browser session)
    if any(idp_endpoint() for idp_endpoint in current_app.extensions.get("samldebug.csrf_exempt", ())):
        return True  # a configured test SP's ACS / SLO: the IdP's cross-site POST carries no (Lax) session cookie
    return request.path.startswith("/r/") and not current_app.config["SAMLDEBUG"].auth_permalinks


def _refuse(status: int, message: str) -> Any:
    abort(status, description=message)


def _require_proxy() -> Any:
    config = current_app.config["SAMLDEBUG"]
    networks: tuple[Network, ...] = current_app.extensions["samldebug.auth_networks"]
    header = config.auth_proxy_header
    value = request.headers.get(header)
    from_proxy = _in(peer_address(), networks)
    if value is not None and not from_proxy:
        from . import audit

        audit.record("refused")
        log.warning("refused a %s header from %s (not a configured proxy address)", header, peer_address())
        _refuse(403, f"The {header} header is accepted only from the sign-in proxy.")
    if from_proxy and value and value.strip():
        g.samldebug_user = value.strip()[:320]
        return None
    if _public():
        return None
    _refuse(401, "Sign-in required: open this page through the organisation's sign-in proxy.")
    return None


def _safe_next(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):  # a Location header: no CR/LF, and browsers drop tabs
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def _require_oidc() -> Any:
    user = session.get("user")
    if isinstance(user, dict) and isinstance(user.get("name"), str):
        g.samldebug_user = user["name"]
        return None
    if _public():
        return None
    if request.method == "GET" and not request.path.startswith("/api/") and not request.path.endswith(".json"):
        # Where to return after sign-in stays in the (signed) session, never in a URL: for a permalink it holds
        # the key, which must not reach the login URL, the provider's logs or an access log.
        session["next"] = _safe_next(request.full_path.rstrip("?"))
        return redirect(url_for("auth.login"))
    _refuse(401, "Sign-in required: open the page in a browser and sign in first.")
    return None


def require_signin() -> Any:
    g.samldebug_user = None
    current = mode()
    if current == "proxy":
        return _require_proxy()
    if current == "oidc":
        return _require_oidc()
    return None


# --- OpenID Connect (Authlib) -------------------------------------------------------------------------------


def _oidc_client() -> Any:
    return current_app.extensions["samldebug.oauth"].oidc


@bp.get("/auth/login")
def login() -> Any:
    if mode() != "oidc":
        abort(404)
    if request.args.get("next"):
        session["next"] = _safe_next(request.args.get("next"))
    return _oidc_client().authorize_redirect(url_for("auth.callback", _external=True))


def allowed(claims: dict[str, Any], groups: list[str], roles: list[str]) -> tuple[bool, str]:
    """(allowed, why not). With neither list configured every user of the provider (Entra: the tenant) may
    sign in; otherwise the ID token must carry one allowed group or one allowed app role."""
    if not groups and not roles:
        return True, ""
    have_groups = claims.get("groups") if isinstance(claims.get("groups"), list) else []
    have_roles = claims.get("roles") if isinstance(claims.get("roles"), list) else []
    if set(map(str, have_groups or [])) & set(groups) or set(map(str, have_roles or [])) & set(roles):
        return True, ""
    if "_claim_names" in claims and "groups" in (claims.get("_claim_names") or {}):
        return False, "Your account is in too many groups for the ID token to list them; ask for an app role."
    return False, "Your account is not in a group or app role allowed to use this page."


@bp.get("/auth/callback")
def callback() -> Any:
    if mode() != "oidc":
        abort(404)
    import requests
    from authlib.integrations.base_client.errors import OAuthError
    from joserfc.errors import JoseError  # Authlib's JOSE library: an ID token it refuses

    try:
        token = _oidc_client().authorize_access_token()
    except (OAuthError, JoseError) as e:
        error = e.error or type(e).__name__
        log.warning("OIDC sign-in failed: %s", error)
        abort(401, description=f"Sign-in failed ({error}). Try again.")
    except requests.RequestException as e:
        log.warning("OIDC sign-in failed: the provider cannot be reached (%s)", type(e).__name__)
        abort(401, description="Sign-in failed: the sign-in provider cannot be reached. Try again later.")
    claims = dict(token.get("userinfo") or {})
    config = current_app.config["SAMLDEBUG"]
    ok, why = allowed(claims, _split(config.oidc_allowed_groups), _split(config.oidc_allowed_roles))
    name = str(claims.get("preferred_username") or claims.get("email") or claims.get("sub") or "")[:320]
    from . import audit

    if not ok or not name:
        g.samldebug_user = name or None
        audit.record("refused")
        abort(403, description=why or "The ID token names no user.")
    target = _safe_next(session.pop("next", None))
    csrf = session.get("csrf")
    session.clear()  # no state from before sign-in survives it (session fixation)
    if csrf:
        session["csrf"] = csrf
    session.permanent = True
    session["user"] = {"name": name, "display": str(claims.get("name") or name)[:200]}
    g.samldebug_user = name
    audit.record("signin")
    return redirect(target)


@bp.route("/auth/logout", methods=["GET", "POST"])
def logout() -> Any:
    session.pop("user", None)
    return render_template("signed_out.html"), 200


def _register_oidc(app: Flask) -> None:
    config = app.config["SAMLDEBUG"]
    missing = [n for n in ("oidc_issuer", "oidc_client_id", "oidc_client_secret") if not getattr(config, n)]
    if missing:
        names = ", ".join(f"SAMLDEBUG_{n.upper()}" for n in missing)
        raise AuthConfigError(f"SAMLDEBUG_AUTH=oidc needs {names}")
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    oauth.register(
        "oidc",
        client_id=config.oidc_client_id,
        client_secret=config.oidc_client_secret,
        server_metadata_url=config.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": config.oidc_scope, "default_timeout": 10},
    )
    app.extensions["samldebug.oauth"] = oauth
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))


def init_app(app: Flask) -> None:
    config = app.config["SAMLDEBUG"]
    if config.auth not in MODES:
        raise AuthConfigError(f"SAMLDEBUG_AUTH must be one of {', '.join(MODES)}, not {config.auth!r}")
    if config.auth == "proxy":
        networks = parse_networks(config.auth_proxy_addresses)
        if not networks:
            raise AuthConfigError("SAMLDEBUG_AUTH=proxy needs SAMLDEBUG_AUTH_PROXY_ADDRESSES (the proxy's address)")
        app.extensions["samldebug.auth_networks"] = networks
    if config.auth == "oidc":
        _register_oidc(app)
    app.register_blueprint(bp)
    app.before_request(require_signin)
    app.jinja_env.globals["signed_in_user"] = current_user
    app.jinja_env.globals["auth_mode"] = lambda: config.auth
