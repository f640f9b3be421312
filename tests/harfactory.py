"""Build browser captures from SAML messages made by factory.py: HAR 1.2 in the shapes Chrome/Edge, Firefox and
Safari export, and SAML-tracer JSON exports.

A flow is a list of producer-neutral `Exchange`s (one HTTP request and its response); `har()` and `saml_tracer()`
render it the way each producer writes it. Every cookie, token and password planted in a flow is listed in
`Flow.secrets`, so sanitize tests can check none survives.

Producer shapes (what the reader has to cope with; modelled on exports seen in the wild and on the producers'
export code, not byte-for-byte copies of a real export):
- Chrome / Edge ("WebInspector"): HTTP/2 pseudo-headers and lower-case names, UTC "Z" times, postData.text plus
  params kept URL-encoded as sent, Set-Cookie lines joined with "\\n" in one header, base64 `content.text` for
  binary bodies (and, knob `html_base64`, for an HTML page too), `redirectURL` beside the location header.
- Firefox: local times with an offset, header names as sent, params URL-decoded, and (knob `upload_headers`) the
  upload stream's headers ahead of the form body in postData.text.
- Safari ("WebKit Web Inspector"): postData with text only, no params.
Knobs (`params_only`, `location_header`, `redirect_url`) cover the combinations other tools produce.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from factory import (
    ACS_URL,
    SAML,
    SAMLP,
    SP_ENTITY_ID,
    T0,
    TENANT,
    KeyPair,
    ResponseSpec,
    build_response,
    iso,
    make_keypair,
    sign,
    to_bytes,
)
from lxml import etree

SP = "https://sp.example.com"
ENTRA = f"https://login.microsoftonline.com/{TENANT}"
SSO_URL = f"{ENTRA}/saml2"
APP_ID = "0d9c7a1e-52f4-4a4b-9f0e-3c6b2a1d9e77"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHAPES = ("chrome", "firefox", "safari")


@cache
def sp_key() -> KeyPair:
    """The SP's own key, for signed HTTP-Redirect AuthnRequests."""
    return make_keypair(cn="sp.example.com")


def authn_request(request_id: str, issued: datetime = T0, acs_url: str = ACS_URL) -> bytes:
    r = etree.Element(f"{{{SAMLP}}}AuthnRequest", nsmap={"samlp": SAMLP, "saml": SAML})
    r.set("ID", request_id)
    r.set("Version", "2.0")
    r.set("IssueInstant", iso(issued))
    r.set("Destination", SSO_URL)
    r.set("AssertionConsumerServiceURL", acs_url)
    r.set("ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    issuer = etree.SubElement(r, f"{{{SAML}}}Issuer")
    issuer.text = SP_ENTITY_ID
    policy = etree.SubElement(r, f"{{{SAMLP}}}NameIDPolicy")
    policy.set("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    policy.set("AllowCreate", "true")
    return etree.tostring(r)


def deflate_b64(xml: bytes) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml) + c.flush()).decode()


def redirect_query(parameter: str, xml: bytes, relay_state: str | None, *, signed: bool) -> str:
    """The HTTP-Redirect binding query (SAML bindings §3.4.4.1), signed with the SP key when `signed`."""
    q = f"{parameter}={quote(deflate_b64(xml), safe='')}"
    if relay_state is not None:
        q += f"&RelayState={quote(relay_state, safe='')}"
    if signed:
        q += f"&SigAlg={quote(RSA_SHA256, safe='')}"
        sig = sp_key().key.sign(q.encode(), padding.PKCS1v15(), hashes.SHA256())
        q += f"&Signature={quote(base64.b64encode(sig).decode(), safe='')}"
    return q


def html_attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def autopost_page(action: str, fields: list[tuple[str, str]]) -> str:
    """Entra's auto-submit page for the HTTP-POST binding."""
    inputs = "".join(f'<input type="hidden" name="{n}" value="{html_attr(v)}" />' for n, v in fields)
    return (
        "<html><head><title>Working...</title></head><body>"
        f'<form method="POST" name="hiddenform" action="{html_attr(action)}">{inputs}'
        "<noscript><p>Script is disabled. Click Submit to continue.</p>"
        '<input type="submit" value="Submit" /></noscript></form>'
        "<script language=\"javascript\">window.setTimeout('document.forms[0].submit()', 0);</script>"
        "</body></html>"
    )


def entra_page(config: dict[str, object], extra: str = "") -> str:
    """An Entra sign-in page: the converged UI reads everything from an inline `$Config` object."""
    return (
        '<!DOCTYPE html><html dir="ltr" lang="en"><head><title>Sign in to your account</title>'
        f'<script type="text/javascript">//<![CDATA[\n$Config={json.dumps(config)};\n//]]></script>'
        f'</head><body>{extra}<div id="root"></div></body></html>'
    )


class Secrets:
    """Deterministic, recognisable secret values (long enough never to occur by chance)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.values: list[str] = []

    def __call__(self, prefix: str, n: int = 32) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        value = prefix + "".join(self.rng.choice(alphabet) for _ in range(n))
        self.values.append(value)
        return value

    def jwt(self, prefix: str) -> str:
        head = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').decode().rstrip("=")
        return f"{head}.{self(prefix + 'P', 48)}.{self(prefix + 'S', 40)}"


@dataclass
class Exchange:
    method: str
    url: str
    status: int = 200
    started: datetime = T0
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    request_cookies: list[tuple[str, str]] = field(default_factory=list)
    set_cookies: list[str] = field(default_factory=list)  # Set-Cookie header values
    form: list[tuple[str, str]] | None = None  # decoded fields, sent application/x-www-form-urlencoded
    request_json: str | None = None
    body: str | None = None
    mime: str = "text/html; charset=utf-8"
    binary: bytes | None = None  # a binary body (every producer writes it base64)
    resource_type: str = "document"

    @property
    def location(self) -> str | None:
        return next((v for n, v in self.response_headers if n.lower() == "location"), None)


@dataclass(frozen=True)
class Message:
    parameter: str  # SAMLRequest / SAMLResponse
    xml: bytes


@dataclass
class Flow:
    name: str
    exchanges: list[Exchange]
    secrets: list[str]
    messages: list[Message]
    relay_state: str | None = None
    errors: list[str] = field(default_factory=list)  # AADSTS codes the flow shows


def _cookie(name: str, value: str, attrs: str = "Path=/; Secure; HttpOnly; SameSite=None") -> str:
    return f"{name}={value}; {attrs}"


def _app_js(rng: random.Random, size: int) -> str:
    words = "function return var const let this window document error value true false null".split()
    return "".join(rng.choice(words) + ("(" if rng.random() < 0.2 else " ") for _ in range(size // 6))


def sp_initiated(
    t0: datetime = T0,
    *,
    seed: int = 1,
    signed_request: bool = True,
    relay_state: str = "https://sp.example.com/app?tab=1&x=2",
    response_spec: ResponseSpec | None = None,
) -> Flow:
    """SP login → 302 to Entra (Redirect binding) → Entra login page → password POST → auto-submit page →
    POST to the ACS → the app, with the cookies, tokens and password a real capture holds."""
    s = Secrets(seed)
    rng = random.Random(seed)
    request_id = f"id-{rng.getrandbits(128):032x}"
    req_xml = authn_request(request_id, t0)
    query = redirect_query("SAMLRequest", req_xml, relay_state, signed=signed_request)
    spec = response_spec or ResponseSpec(in_response_to=request_id, issued=t0 + timedelta(seconds=20))
    resp_xml = to_bytes(sign(build_response(spec), "assertion"))
    resp_b64 = base64.b64encode(resp_xml).decode()
    password = s("Pw!", 20)
    flow_token, canary = s("FT"), s("CN")
    ctx = f"rQQIARAA{rng.getrandbits(96):024x}"  # Entra's opaque sign-in context: state, not a credential
    estsauth, sp_session, sp_auth, buid = s("ESTS"), s("SPS"), s("SPA"), s("BUID")
    code, client_secret, code2 = s("CODE"), s("CSEC"), s("CODE2")
    access, refresh, id_token, api_bearer = s.jwt("AT"), s("RT", 60), s.jwt("IDT"), s.jwt("BEARER")
    app_path = urlsplit(relay_state)
    sec = timedelta(seconds=1)
    ex = [
        Exchange(
            "GET",
            f"{SP}/login",
            302,
            t0,
            response_headers=[("Location", f"{SSO_URL}?{query}"), ("Content-Length", "0")],
            set_cookies=[_cookie("sp_session", sp_session)],
        ),
        Exchange(
            "GET",
            f"{SSO_URL}?{query}",
            200,
            t0 + sec,
            request_headers=[("Referer", f"{SP}/")],
            request_cookies=[("buid", buid)],
            set_cookies=[_cookie("esctx", s("ESCTX")), "x-ms-gateway-slice=estsfd; path=/; secure; httponly"],
            body=entra_page(
                {
                    "sFT": flow_token,
                    "sFTName": "flowToken",
                    "canary": canary,
                    "sCtx": ctx,
                    "sErrorCode": "",
                    "correlationId": "2f1e7c54-9a1b-4b8e-8a51-4f0f1c2d3e4f",
                }
            ),
        ),
        Exchange(
            "GET",
            "https://aadcdn.msftauth.net/shared/1.0/content/images/microsoft_logo.png",
            200,
            t0 + 2 * sec,
            mime="image/png",
            binary=bytes(rng.getrandbits(8) for _ in range(600)),
            resource_type="image",
        ),
        Exchange(
            "POST",
            f"{ENTRA}/login",
            200,
            t0 + 15 * sec,
            request_headers=[("Origin", "https://login.microsoftonline.com")],
            request_cookies=[("buid", buid), ("esctx", s("ESCTX2"))],
            set_cookies=[_cookie("ESTSAUTH", estsauth), _cookie("ESTSAUTHPERSISTENT", s("ESTSP"))],
            form=[
                ("i13", "0"),
                ("login", "alice@contoso.example"),
                ("loginfmt", "alice@contoso.example"),
                ("type", "11"),
                ("passwd", password),
                ("ctx", ctx),
                ("flowToken", flow_token),
                ("canary", canary),
            ],
            body=autopost_page(ACS_URL, [("SAMLResponse", resp_b64), ("RelayState", relay_state)]),
        ),
        Exchange(
            "POST",
            ACS_URL,
            302,
            t0 + 21 * sec,
            request_headers=[("Origin", "https://login.microsoftonline.com")],
            request_cookies=[("sp_session", sp_session)],
            response_headers=[("Location", f"{app_path.path}?{app_path.query}")],  # relative, as SPs often send
            set_cookies=[_cookie("sp_auth", sp_auth)],
            form=[("SAMLResponse", resp_b64), ("RelayState", relay_state)],
        ),
        Exchange(
            "GET",
            relay_state,
            200,
            t0 + 22 * sec,
            request_cookies=[("sp_auth", sp_auth)],
            body="<html><body><h1>Welcome Alice</h1><script>var error = null;</script></body></html>",
        ),
        Exchange(
            "GET",
            "https://api.sp.example.com/me",
            200,
            t0 + 23 * sec,
            request_headers=[("Authorization", f"Bearer {api_bearer}")],
            mime="application/json",
            body=json.dumps({"name": "Alice", "error": None}),
            resource_type="xhr",
        ),
        Exchange(
            "POST",
            f"{ENTRA}/oauth2/v2.0/token",
            200,
            t0 + 24 * sec,
            form=[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", APP_ID),
                ("client_secret", client_secret),
                ("redirect_uri", f"{SP}/oidc/callback"),
            ],
            mime="application/json; charset=utf-8",
            body=json.dumps(
                {
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "access_token": access,
                    "refresh_token": refresh,
                    "id_token": id_token,
                }
            ),
            resource_type="fetch",
        ),
        Exchange("GET", f"{SP}/oidc/callback?code={code2}&state=st-1", 200, t0 + 25 * sec, body="<html></html>"),
        Exchange(
            "GET",
            f"{SP}/static/app.js",
            200,
            t0 + 26 * sec,
            mime="application/javascript",
            body=_app_js(rng, 4000),
            resource_type="script",
        ),
    ]
    return Flow(
        "sp-initiated",
        ex,
        s.values,
        [Message("SAMLRequest", req_xml), Message("SAMLResponse", resp_xml)],
        relay_state,
    )


def idp_initiated(t0: datetime = T0, *, seed: int = 2) -> Flow:
    """My Apps → Entra → auto-submit page → POST to the ACS: no AuthnRequest, no InResponseTo, no RelayState."""
    s = Secrets(seed)
    spec = ResponseSpec(in_response_to=None, issued=t0 + timedelta(seconds=1))
    resp_xml = to_bytes(sign(build_response(spec), "assertion"))
    resp_b64 = base64.b64encode(resp_xml).decode()
    estsauth = s("ESTS")
    sec = timedelta(seconds=1)
    ex = [
        Exchange(
            "GET",
            f"https://launcher.myapps.microsoft.com/api/signin/{APP_ID}?tenantId={TENANT}",
            302,
            t0,
            request_headers=[("Authorization", f"Bearer {s.jwt('MYAPPS')}")],
            response_headers=[("Location", f"{ENTRA}/saml2/idpinitiated?appid={APP_ID}")],
        ),
        Exchange(
            "GET",
            f"{ENTRA}/saml2/idpinitiated?appid={APP_ID}",
            200,
            t0 + sec,
            request_cookies=[("ESTSAUTH", estsauth)],
            body=autopost_page(ACS_URL, [("SAMLResponse", resp_b64)]),
        ),
        Exchange(
            "POST",
            ACS_URL,
            302,
            t0 + 2 * sec,
            response_headers=[("Location", f"{SP}/app")],
            set_cookies=[_cookie("sp_auth", s("SPA"))],
            form=[("SAMLResponse", resp_b64)],
        ),
    ]
    return Flow("idp-initiated", ex, s.values, [Message("SAMLResponse", resp_xml)])


AADSTS50011 = (
    "AADSTS50011: The redirect URI 'https://sp.example.com/saml/acs' specified in the request does not match the "
    "redirect URIs configured for the application '0d9c7a1e-52f4-4a4b-9f0e-3c6b2a1d9e77'."
)


def error_flow(t0: datetime = T0, *, seed: int = 3) -> Flow:
    """SP login → Entra refuses (AADSTS50011 error page); plus an OAuth error redirect (AADSTS900144) from Entra
    back to the app, seen both as a Location header and as the next request's URL."""
    s = Secrets(seed)
    request_id = f"id-{random.Random(seed).getrandbits(128):032x}"
    req_xml = authn_request(request_id, t0, acs_url=f"{SP}/wrong/acs")
    query = redirect_query("SAMLRequest", req_xml, None, signed=False)
    description = quote("AADSTS900144: The request body must contain the following parameter: 'client_id'.")
    callback = f"{SP}/oidc/callback?error=invalid_request&error_description={description}&state=st-2"
    sec = timedelta(seconds=1)
    ex = [
        Exchange("GET", f"{SP}/login", 302, t0, response_headers=[("Location", f"{SSO_URL}?{query}")]),
        Exchange(
            "GET",
            f"{SSO_URL}?{query}",
            200,
            t0 + sec,
            request_cookies=[("buid", s("BUID"))],
            body=entra_page(
                {
                    "sErrorCode": "50011",
                    "strServiceExceptionMessage": AADSTS50011,
                    "sFT": s("FT"),
                    "correlationId": "7a0b6c1d-2e3f-4a5b-8c9d-0e1f2a3b4c5d",
                    "sessionId": "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
                },
                extra="<div>Request Id: c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f</div>",
            ),
        ),
        Exchange(
            "GET",
            f"{ENTRA}/oauth2/v2.0/authorize?response_type=code&scope=openid&state=st-2",
            302,
            t0 + 5 * sec,
            response_headers=[("Location", callback)],
        ),
        Exchange("GET", callback, 200, t0 + 6 * sec, body="<html><body>Sign-in failed</body></html>"),
    ]
    return Flow("error", ex, s.values, [Message("SAMLRequest", req_xml)], errors=["50011", "900144"])


def concat(*flows: Flow) -> Flow:
    return Flow(
        "+".join(f.name for f in flows),
        [e for f in flows for e in f.exchanges],
        [v for f in flows for v in f.secrets],
        [m for f in flows for m in f.messages],
    )


# --- HAR rendering -------------------------------------------------------------------------------------------

CREATORS = {
    "chrome": {"name": "WebInspector", "version": "537.36"},
    "firefox": {"name": "Firefox", "version": "128.0"},
    "safari": {"name": "WebKit Web Inspector", "version": "1.0"},
}
_PARIS = timezone(timedelta(hours=1))


def _form_text(fields: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in fields)


def _time(t: datetime, shape: str) -> str:
    if shape == "firefox":
        return t.astimezone(_PARIS).isoformat(timespec="milliseconds")  # "2026-03-01T13:00:00.000+01:00"
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _status_text(status: int) -> str:
    return {200: "OK", 302: "Found", 204: "No Content", 404: "Not Found"}.get(status, "")


def _entry(x: Exchange, shape: str, knobs: dict[str, bool]) -> dict[str, Any]:
    parts = urlsplit(x.url)
    chrome = shape == "chrome"
    lower = chrome  # HTTP/2: Chrome shows header names lower-case

    def h(name: str, value: str) -> dict[str, str]:
        return {"name": name.lower() if lower else name, "value": value}

    req_headers = []
    if chrome:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        req_headers += [
            {"name": ":authority", "value": parts.netloc},
            {"name": ":method", "value": x.method},
            {"name": ":path", "value": path},
            {"name": ":scheme", "value": parts.scheme},
        ]
    req_headers += [h("Accept", "text/html,application/xhtml+xml"), h("User-Agent", "Mozilla/5.0 (test)")]
    req_headers += [h(n, v) for n, v in x.request_headers]
    if x.request_cookies:
        req_headers.append(h("Cookie", "; ".join(f"{n}={v}" for n, v in x.request_cookies)))
    request: dict[str, Any] = {
        "method": x.method,
        "url": x.url,
        "httpVersion": "http/2.0" if chrome else "HTTP/2",
        "headers": req_headers,
        "queryString": [
            {"name": unquote(n), "value": v if chrome else unquote(v)}
            for n, _, v in (p.partition("=") for p in parts.query.split("&") if p)
        ],
        "cookies": [{"name": n, "value": v} for n, v in x.request_cookies],
        "headersSize": -1,
        "bodySize": 0,
    }
    if x.form is not None or x.request_json is not None:
        mime = "application/x-www-form-urlencoded" if x.form is not None else "application/json"
        text = _form_text(x.form) if x.form is not None else (x.request_json or "")
        request["headers"].append(h("Content-Type", mime))
        post: dict[str, Any] = {"mimeType": mime}
        if shape == "firefox" and knobs.get("upload_headers") and x.form is not None:
            # Firefox: the upload stream's own headers ahead of the body.
            post["text"] = f"Content-Type: {mime}\r\nContent-Length: {len(text)}\r\n\r\n{text}"
        elif not knobs.get("params_only"):
            post["text"] = text
        if x.form is not None and (shape != "safari" or knobs.get("params_only")):
            encoded = chrome and not knobs.get("params_decoded")
            post["params"] = [
                {"name": quote(n, safe="") if encoded else n, "value": quote(v, safe="") if encoded else v}
                for n, v in x.form
            ]
        request["postData"] = post
        request["bodySize"] = len(text)

    resp_headers = [h("Content-Type", x.mime)]
    for n, v in x.response_headers:
        if n.lower() == "location" and not knobs.get("location_header", True):
            continue
        resp_headers.append(h(n, v))
    if x.set_cookies:
        if chrome:
            # Chrome: several Set-Cookie lines as one header value, separated by "\n".
            resp_headers.append(h("Set-Cookie", "\n".join(x.set_cookies)))
        else:
            resp_headers += [h("Set-Cookie", c) for c in x.set_cookies]
    content: dict[str, Any] = {"size": 0, "mimeType": x.mime if x.status != 302 else "x-unknown"}
    if x.binary is not None:
        content.update(size=len(x.binary), text=base64.b64encode(x.binary).decode(), encoding="base64")
    elif x.body is not None:
        if chrome and knobs.get("html_base64") and "html" in x.mime:
            # Chrome: a text body it could not decode as text is written base64 too.
            content.update(text=base64.b64encode(x.body.encode()).decode(), encoding="base64")
        else:
            content["text"] = x.body
        content["size"] = len(x.body.encode())
    response: dict[str, Any] = {
        "status": x.status,
        "statusText": "" if chrome else _status_text(x.status),
        "httpVersion": "http/2.0" if chrome else "HTTP/2",
        "headers": resp_headers,
        "cookies": [
            {"name": c.split("=", 1)[0], "value": c.split("=", 1)[1].split(";", 1)[0], "path": "/", "secure": True}
            for c in x.set_cookies
        ],
        "content": content,
        "redirectURL": (x.location or "") if knobs.get("redirect_url", True) else "",
        "headersSize": -1,
        "bodySize": content["size"],
    }
    entry: dict[str, Any] = {
        "pageref": "page_1" if shape != "safari" else "page_0",
        "startedDateTime": _time(x.started, shape),
        "time": 42.5,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"blocked": 0.5, "dns": -1, "connect": -1, "ssl": -1, "send": 0.2, "wait": 40.1, "receive": 1.7},
    }
    if chrome:
        entry.update(
            {"_initiator": {"type": "other"}, "_priority": "VeryHigh", "_resourceType": x.resource_type},
            serverIPAddress="20.190.160.1",
            connection="443",
        )
        response["_transferSize"] = content["size"] + 300
        response["_error"] = None
    elif shape == "safari":
        entry["_fetchType"] = "Network Load"
        entry["_priority"] = "medium"
    else:
        entry["_securityState"] = "secure"
    return entry


def har_entries(exchanges: list[Exchange], shape: str = "chrome", **knobs: bool) -> list[dict[str, Any]]:
    return [_entry(x, shape, knobs) for x in exchanges]


def har(flow: Flow | list[Exchange], shape: str = "chrome", **knobs: bool) -> dict[str, Any]:
    exchanges = flow.exchanges if isinstance(flow, Flow) else flow
    first = exchanges[0].started if exchanges else T0
    log: dict[str, Any] = {
        "version": "1.2",
        "creator": CREATORS[shape],
        "pages": [
            {
                "startedDateTime": _time(first, shape),
                "id": "page_1" if shape != "safari" else "page_0",
                "title": exchanges[0].url if exchanges else "",
                "pageTimings": {"onContentLoad": 120, "onLoad": 240},
            }
        ],
        "entries": har_entries(exchanges, shape, **knobs),
    }
    if shape == "firefox":
        log["browser"] = {"name": "Firefox", "version": "128.0"}
    return {"log": log}


def dumps(doc: dict[str, Any], indent: int | None = 2) -> bytes:
    return json.dumps(doc, indent=indent, ensure_ascii=False).encode("utf-8")


# --- SAML-tracer rendering -----------------------------------------------------------------------------------


def _tracer_saml(x: Exchange) -> str | None:
    """The decoded message SAML-tracer stores in "saml": inflated for GET, base64-decoded for POST."""
    query = dict(p.partition("=")[::2] for p in urlsplit(x.url).query.split("&") if p)
    for name in ("SAMLRequest", "SAMLResponse"):
        if name in query:
            return zlib.decompress(base64.b64decode(unquote(query[name])), -15).decode()
    for name, value in x.form or ():
        if name in ("SAMLRequest", "SAMLResponse"):
            return base64.b64decode(value).decode()
    return None


def _hash(value: str) -> str:
    return "{hash:" + hashlib.sha1(value.encode()).hexdigest() + "}"  # noqa: S324 - what SAML-tracer writes


def saml_tracer(
    flow: Flow | list[Exchange], *, legacy: bool = False, export_filter: str | None = None
) -> dict[str, Any]:
    """A SAML-tracer export: {"requests": [...], "timestamp": ...}. No bodies (the extension never sees them).

    `legacy`: the pre-1.0 layout ("id", headers as [name, value] pairs). `export_filter="hash"`: the export
    dialog's hash profile (every posted value and cookie value replaced by its hash, postData overwritten)."""
    exchanges = flow.exchanges if isinstance(flow, Flow) else flow
    requests = []
    for i, x in enumerate(exchanges):
        req_headers = [("Host", urlsplit(x.url).netloc), ("User-Agent", "Mozilla/5.0 (test)")] + x.request_headers
        if x.request_cookies:
            cookies = "; ".join(f"{n}={_hash(v) if export_filter else v}" for n, v in x.request_cookies)
            req_headers.append(("Cookie", cookies))
        resp_headers = [("Content-Type", x.mime), *x.response_headers]
        for c in x.set_cookies:
            name, _, rest = c.partition("=")
            value, _, attrs = rest.partition(";")
            resp_headers.append(("Set-Cookie", f"{name}={_hash(value) if export_filter else value};{attrs}"))

        def hl(headers: list[tuple[str, str]]) -> list[Any]:
            return [[n, v] for n, v in headers] if legacy else [{"name": n, "value": v} for n, v in headers]

        r: dict[str, Any] = {"method": x.method, "url": x.url}
        r["id" if legacy else "requestId"] = str(4000 + i)
        r["requestHeaders"] = hl(req_headers)
        if x.method == "GET":
            r["get"] = [
                [unquote(n), unquote(v)]
                for n, _, v in (p.partition("=") for p in urlsplit(x.url).query.split("&") if p)
            ]
        if x.form is not None:
            r["postData"] = "{overwritten}" if export_filter else {n: [v] for n, v in x.form}
            r["post"] = [[n, _hash(v) if export_filter else v] for n, v in x.form]
        saml = _tracer_saml(x)
        if saml is not None:
            r["protocol"] = "SAML-P"
            r["saml"] = saml
        r["responseStatus"] = x.status
        r["responseStatusText"] = f"HTTP/2 {x.status} {_status_text(x.status)}".strip()
        r["responseHeaders"] = hl(resp_headers)
        requests.append(r)
    return {"requests": requests, "timestamp": "2026-03-01T12:30:00.000Z"}
