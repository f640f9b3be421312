"""Test SPs: samldebug plays the service provider, so an engineer signs in through Entra (or any IdP) and
reads the report, no capture needed.

/sp                         list and create test SPs
/sp/<name>                  what to paste into Entra, SP metadata, the app's federation metadata, the
                            AuthnRequest knobs with a preview, replay of a customer SP's request shape
/sp/<name>/login            sign-on URL (Entra "Test", My Apps): starts an SP-initiated sign-in
/sp/<name>/acs              Assertion Consumer Service (cross-site POST from the IdP: no CSRF token)
/sp/<name>/slo              single logout (LogoutResponse to our request; IdP-initiated LogoutRequest answered)
/sp/<name>/result/<id>      the report, only for the browser that started the flow (or that posted it)

Safety: request state is kept server side by request ID (a SameSite cookie would not come back with the IdP's
cross-site POST); the ACS result is sealed under a key that only the receiving browser holds (a cookie scoped to
the result's path) and expires after RESULT_TTL; for SP-initiated sign-in the starting browser's flow cookie must
match too. Nothing received is kept unless the user shares it (a permalink, redacted and encrypted as usual).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import decrypt, fetch, sp, trust
from ..catalog import finding
from ..certs import Anchor, load_certs
from ..config import Settings
from ..model import AnalysisStop, Finding, Report
from ..pipeline import analyze, sort_findings
from ..report import from_json, to_json
from ..sp import KeyPair, TestSP
from ..store import StoreError
from ..store.testsp import SPRecord, TestSPStore, owner_hash
from . import limits, present, security
from .context import clock, config, fields, metadata_ca_file, metadata_cache, store, typed, upload
from .errors import FormError

bp = Blueprint("testsp", __name__, url_prefix="/sp")

REQUEST_TTL = timedelta(minutes=30)  # how long a sent request waits for its answer
RESULT_TTL = timedelta(minutes=15)  # how long the receiving browser can open (and share) its report
SEEN_TTL = timedelta(days=2)  # how long message IDs are remembered for replay detection
OWNER_COOKIE = "samldebug_sp_flow"
RESULT_COOKIE = "samldebug_sp_result"


# --- access, storage, keys -------------------------------------------------------------------------------------


def authorize(action: str, name: str | None = None) -> None:
    """The access hook: creating, editing and deleting test SPs follow the page's access rules. When sign-in is
    configured, the auth module registers `app.extensions["samldebug.authorize"]` (a callable(action, name) that
    aborts with 401/403); without it, anyone who can open the page may manage test SPs."""
    hook = current_app.extensions.get("samldebug.authorize")
    if hook is not None:
        hook(f"testsp.{action}", name)


def db() -> TestSPStore:
    return TestSPStore(store())


@dataclass(frozen=True)
class Loaded:
    rec: SPRecord
    sp: TestSP
    keys: KeyPair


def _key_dir(name: str) -> Path:
    return Path(current_app.instance_path) / "sp" / name


def _keys_in_database() -> bool:
    """SQLite lives in the instance folder: keys go beside it as files. Any other database (PostgreSQL) is
    shared by several instances: the key pair is shared through it."""
    return not config().database_url.startswith("sqlite")


def _write_keys(name: str, keys: sp.KeyPair) -> None:
    folder = _key_dir(name)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for filename, data, mode in (("sp.key.pem", keys.key_pem, 0o600), ("sp.cert.pem", keys.cert_pem, 0o644)):
        path = folder / filename
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def _load(name: str) -> Loaded:
    if not sp.valid_name(name):
        abort(404)
    rec = db().get(name)
    if rec is None:
        abort(404, description=f"There is no test SP named {name!r}. Create it on the test SP page.")
    if rec.key_pem and rec.cert_pem:
        keys = sp.KeyPair(rec.key_pem, rec.cert_pem)
    else:
        folder = _key_dir(name)
        try:
            keys = sp.KeyPair((folder / "sp.key.pem").read_bytes(), (folder / "sp.cert.pem").read_bytes())
        except OSError:
            abort(500, description=f"The key pair of test SP {name!r} is missing from {folder}.")
    base = str(rec.settings.get("base") or request.url_root.rstrip("/"))
    return Loaded(rec, sp.TestSP(name, base), keys)


# --- the IdP's metadata ----------------------------------------------------------------------------------------


@dataclass
class Idp:
    trust: trust.Trust
    notes: list[Finding]
    sso: dict[str, str]  # binding → SingleSignOnService location
    slo: dict[str, str]

    @property
    def configured(self) -> bool:
        return bool(self.trust.metadata)


def _idp(loaded: Loaded, now: datetime) -> Idp:
    """The app's federation metadata (fetched through the SSRF-safe fetcher, or the uploaded file)."""
    s = loaded.rec.settings
    limits = config().limits()
    sources = []
    if s.get("metadata_url"):
        sources.append(fetch.MetadataSource(str(s["metadata_url"]), "App Federation Metadata Url"))
    docs: list[tuple[bytes, str, str | None]] = []
    notes: list[Finding] = []
    if sources:
        fetched, notes = fetch.fetch_all(
            sources, config().fetch_policy(ca_file=metadata_ca_file()), metadata_cache(), clock()
        )
        docs += fetched
    if loaded.rec.idp_metadata:
        docs.append((loaded.rec.idp_metadata, "uploaded federation metadata", None))
    found = trust.collect(docs, [], limits, now)
    sso: dict[str, str] = {}
    slo: dict[str, str] = {}
    for info in found.metadata:
        for e in info.endpoints:
            target = sso if e.kind == "SingleSignOnService" else slo if e.kind == "SingleLogoutService" else None
            if target is not None and _usable_endpoint(e.location):
                target.setdefault(
                    "post" if e.binding == sp.POST else "redirect" if e.binding == sp.REDIRECT else "", e.location
                )
    return Idp(found, notes + found.notes, sso, slo)


def _usable_endpoint(location: str) -> bool:
    """An endpoint the test SP may redirect or post to: an http(s) URL without whitespace or control characters
    (the metadata is untrusted input: a newline would inject a response header, javascript: would be a link)."""
    return location.lower().startswith(("https://", "http://")) and not any(
        ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in location
    )


def _settings(loaded: Loaded, idp: Idp, **kw: Any) -> Settings:
    own = tuple(Anchor(c, "test SP certificate") for c in load_certs(loaded.keys.cert_pem))
    base = Settings(
        sp_entity_id=loaded.sp.entity_id,
        acs_url=loaded.sp.acs_url,
        reply_urls=(loaded.sp.acs_url,),
        skew=config().default_skew,
        limits=config().limits(),
        sp_anchors=own,
        decryption_keys=tuple(decrypt.load_private_keys(loaded.keys.key_pem)),
    )
    return dataclasses.replace(idp.trust.apply(base), **kw)


# --- pages -----------------------------------------------------------------------------------------------------


@bp.get("")
def index() -> Any:
    try:
        sps = db().list()
        error = None
    except StoreError:
        sps, error = [], "The database cannot be reached: test SPs are unavailable right now."
    return render_template("sp_index.html", sps=sps, error=error, base=request.url_root.rstrip("/"))


@bp.post("")
def create() -> Any:
    authorize("create")
    name = str(fields().get("name") or "").strip().lower()
    if not sp.valid_name(name):
        sps = db().list()
        error = "A test SP name is 1-40 lower-case letters, digits or dashes (it becomes part of its URLs)."
        return render_template("sp_index.html", sps=sps, error=error, base=request.url_root.rstrip("/")), 400
    now = clock()
    keys = sp.new_key_pair(name, now)
    shared = _keys_in_database()
    if not db().create(name, now, keys.key_pem if shared else None, keys.cert_pem if shared else None):
        sps = db().list()
        return render_template("sp_index.html", sps=sps, error=f"{name!r} exists already.", base=request.url_root), 400
    if not shared:
        _write_keys(name, keys)
    db().update(name, now, {"base": request.url_root.rstrip("/")})
    return redirect(url_for("testsp.page", name=name), 303)


def _page(loaded: Loaded, status: int = 200, **ctx: Any) -> Any:
    now = clock()
    idp = ctx.pop("idp", None) or _idp(loaded, now)
    saved = loaded.rec.settings.get("options") or {}
    form = ctx.pop("form", None) or saved or sp.options_to_form(sp.RequestOptions())
    cert = loaded.keys.certificate()
    resp = make_response(
        render_template(
            "sp_page.html",
            t=loaded.sp,
            rec=loaded.rec,
            idp=idp,
            form=form,
            knobs=sp.knobs(),
            formats=sp.NAMEID_FORMATS,
            contexts=sp.AUTHN_CONTEXTS,
            comparisons=sp.COMPARISONS,
            sig_algs=list(sp.SIG_ALGS),
            cert=cert,
            cert_sha1=_thumbprint(cert),
            idp_certs=[
                {"source": a.source, "sha1": _thumbprint(a.cert), "not_after": f"{a.cert.not_valid_after_utc:%Y-%m-%d}"}
                for a in idp.trust.anchors
            ],
            **ctx,
        ),
        status,
    )
    return _allow_forms_to(resp, list(idp.sso.values()))


def _thumbprint(cert: Any) -> str:
    # A thumbprint for display, as the Entra portal shows them; never used to decide trust.
    return str(cert.fingerprint(hashes.SHA1()).hex().upper())  # noqa: S303


@bp.get("/<name>")
def page(name: str) -> Any:
    return _page(_load(name))


@bp.post("/<name>/idp")
def save_idp(name: str) -> Any:
    """The app's federation metadata: App Federation Metadata Url, tenant + application ID, or a file."""
    authorize("edit", name)
    loaded = _load(name)
    settings = dict(loaded.rec.settings)
    form = typed()
    url = form.get("metadata_url", "").strip()
    tenant = form.get("tenant", "").strip()
    data = upload("metadata_file", config().max_xml_bytes)
    pasted = form.get("metadata", "").strip().encode()
    if tenant:
        try:
            url = fetch.entra_metadata_url(
                tenant, form.get("app_id", "").strip() or None, form.get("cloud") or "global"
            )
        except AnalysisStop as stop:
            return _page(loaded, 400, error=stop.finding.title)
    if (data is not None and len(data) > config().max_xml_bytes) or len(pasted) > config().max_xml_bytes:
        return _page(loaded, 400, error="The metadata file is larger than the limit.")
    settings["metadata_url"] = url
    db().update(name, clock(), settings, data or pasted or b"")  # each save replaces the whole source
    if url:  # saving fetches now (an IdP that rolled its key is seen at once, not after the cache's TTL)
        # cache_ttl=-1: no cached copy is fresh enough, whatever its age; the new copy replaces it in the cache.
        policy = dataclasses.replace(config().fetch_policy(ca_file=metadata_ca_file()), cache_ttl=-1)
        try:
            fetch.fetch_metadata(url, policy, now=clock(), cache=metadata_cache())
        except AnalysisStop:
            pass  # the page shows why, from the next (cached or failing) fetch
    return redirect(url_for("testsp.page", name=name) + "#idp", 303)


@bp.post("/<name>/delete")
def delete(name: str) -> Any:
    authorize("delete", name)
    if not sp.valid_name(name) or not db().delete(name):
        abort(404)
    shutil.rmtree(_key_dir(name), ignore_errors=True)
    return redirect(url_for("testsp.index"), 303)


@bp.get("/<name>/metadata")
def metadata(name: str) -> Any:
    loaded = _load(name)
    xml = sp.sp_metadata(loaded.sp, loaded.keys, clock())
    download = request.args.get("download") == "1"
    headers = {"Content-Disposition": f'attachment; filename="samldebug-sp-{name}.xml"'} if download else {}
    return Response(xml, mimetype="application/samlmetadata+xml" if download else "application/xml", headers=headers)


@bp.get("/<name>/cert.pem")
def certificate(name: str) -> Any:
    loaded = _load(name)
    return Response(
        loaded.keys.cert_pem,
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="samldebug-sp-{name}.cer"'},
    )


@bp.post("/<name>/replay")
@limits.analyze
def replay(name: str) -> Any:
    """Copy a customer SP's request shape (its metadata or one of its AuthnRequests) into the knobs."""
    loaded = _load(name)
    text = typed().get("customer", "")
    uploaded = upload("customer_file", config().max_input_bytes)
    if uploaded is not None:
        text = uploaded[: config().max_input_bytes].decode("utf-8", "replace")
    try:
        replayed = sp.options_from(text, config().limits())
    except sp.SPError as e:
        return _page(loaded, 400, replay_error=str(e))
    return _page(loaded, form=sp.options_to_form(replayed.options), replayed=replayed)


# --- sending requests ------------------------------------------------------------------------------------------


def _options() -> sp.RequestOptions:
    return sp.options_from_form(fields())


def _build(loaded: Loaded, idp: Idp, opts: sp.RequestOptions, now: datetime) -> tuple[str, sp.Outgoing]:
    destination = idp.sso.get(opts.binding) or next(iter(idp.sso.values()), "")
    if not destination:
        raise sp.SPError(
            "The app's federation metadata is not set (or has no SingleSignOnService): give its App Federation "
            "Metadata Url, tenant and application ID, or upload the file first."
        )
    request_id = sp.new_id()
    xml = sp.authn_request(loaded.sp, opts, destination, request_id, now)
    keys = loaded.keys if opts.sign else None
    return request_id, sp.prepare(xml, destination, opts.binding, opts.relay_state, keys, opts.sig_alg, "SAMLRequest")


@bp.post("/<name>/preview")
@limits.analyze
def preview(name: str) -> Any:
    """The request as it would be sent, and what the report predicts Entra will answer."""
    loaded = _load(name)
    now = clock()
    idp = _idp(loaded, now)
    form: dict[str, Any] = typed()
    try:
        opts = _options()
        _rid, out = _build(loaded, idp, opts, now)
    except sp.SPError as e:
        return _preview_or_page(loaded, idp, form, error=str(e))
    settings = _settings(loaded, idp, require_signed_requests=form.get("entra_requires_signed") == "1")
    evidence = out.url if out.binding == "redirect" else urlencode(out.fields)
    report = analyze(evidence, settings, now=now)
    ctx = present.view(report, config().limits(), now)
    return _preview_or_page(loaded, idp, form, out=out, opts=opts, **ctx)


def _preview_or_page(loaded: Loaded, idp: Idp, form: dict[str, Any], **ctx: Any) -> Any:
    if request.headers.get("HX-Request") == "true":
        return render_template("sp_preview.html", t=loaded.sp, fields=None, **ctx)
    status = 400 if ctx.get("error") else 200
    return _page(loaded, status, idp=idp, form=form, preview=True, **ctx)


def _owner_token() -> str:
    token = request.cookies.get(OWNER_COOKIE) or ""
    return token if 20 <= len(token) <= 64 else secrets.token_urlsafe(32)


def _with_owner(resp: Response, loaded: Loaded, token: str) -> Response:
    resp.set_cookie(
        OWNER_COOKIE,
        token,
        max_age=86400,
        path=f"/sp/{loaded.sp.name}",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return resp


def _allow_forms_to(resp: Response, urls: Any) -> Response:
    """CSP form-action also governs the redirects that follow a form submission: the test SP's own forms (sign in,
    sign out) end at the IdP, so its origins join 'self' on these pages only."""
    origins = sorted(
        {"{0.scheme}://{0.netloc}".format(urlsplit(u)) for u in urls if u.startswith(("https://", "http://"))}
    )
    if origins:
        resp.headers["Content-Security-Policy"] = security.CSP.replace(
            "form-action 'self'", "form-action 'self' " + " ".join(origins)
        )
    return resp


def _send(loaded: Loaded, out: sp.Outgoing, token: str) -> Response:
    if out.binding == "redirect":
        resp = make_response(redirect(out.url, 303))
    else:
        resp = make_response(render_template("sp_post.html", action=out.url, fields=out.fields, what="SAML message"))
        _allow_forms_to(resp, [out.url])
    resp.headers["Cache-Control"] = "no-store"
    return _with_owner(resp, loaded, token)


def _start(loaded: Loaded, opts: sp.RequestOptions, how: str) -> Any:
    now = clock()
    idp = _idp(loaded, now)
    try:
        request_id, out = _build(loaded, idp, opts, now)
    except sp.SPError as e:
        return _page(loaded, 400, idp=idp, form=sp.options_to_form(opts), error=str(e))
    token = _owner_token()
    details = {
        "options": opts.summary(),
        "destination": out.url.split("?", 1)[0],
        "binding": out.binding,
        "xml": out.xml.decode("utf-8", "replace"),
        "started": how,
        "relay_state": opts.relay_state,
    }
    db().save_request(request_id, loaded.sp.name, "authn", owner_hash(token), now, now + REQUEST_TTL, details)
    return _send(loaded, out, token)


@bp.post("/<name>/start")
@limits.analyze
def start(name: str) -> Any:
    loaded = _load(name)
    try:
        opts = _options()
    except sp.SPError as e:
        return _page(loaded, 400, error=str(e))
    settings = dict(loaded.rec.settings)
    settings["options"] = sp.options_to_form(opts)  # the sign-on URL reuses the last knobs
    db().update(name, clock(), settings)
    return _start(loaded, opts, "the test SP page")


@bp.get("/<name>/login")
@limits.analyze
def login(name: str) -> Any:
    """Sign on URL (Entra's 'Test' button and My Apps come here when it is set): an SP-initiated sign-in with
    the knobs last used on the page."""
    loaded = _load(name)
    saved = loaded.rec.settings.get("options")
    try:
        opts = sp.options_from_form(saved) if isinstance(saved, dict) else sp.RequestOptions()
    except sp.SPError:
        opts = sp.RequestOptions()
    return _start(loaded, opts, "the sign-on URL")


# --- receiving ----------------------------------------------------------------------------------------------------


def _extra_findings(name: str, report: Report, now: datetime, kind: str) -> tuple[dict[str, Any], list[Finding]]:
    """What only the receiving SP knows: which request this answers, and whether it was seen before."""
    found: list[Finding] = []
    flow: dict[str, Any] = {"kind": "unreadable", "owner": None, "request": None}
    message = report.messages[0] if report.messages else None
    accepted = (kind, "assertion") if kind == "response" else (kind,)  # some senders post a bare Assertion
    if message is None or message.kind not in accepted:
        return flow, found
    v = message.unverified
    irt = v.in_response_to or next((c.in_response_to for c in v.subject_confirmations if c.in_response_to), None)
    expected_kind = "authn" if kind == "response" else "logout"
    if irt:
        sent = db().get_request(irt)
        if sent is None or sent.sp_name != name or sent.kind != expected_kind:
            flow["kind"] = "unknown request"
            found.append(
                finding(
                    "in_response_to_mismatch",
                    "This answers a request that this samldebug instance did not send",
                    expected=f"the ID of a {'sign-in' if kind == 'response' else 'logout'} request sent by test SP "
                    f"{name}",
                    actual=irt,
                    where="@InResponseTo",
                )
            )
        else:
            flow.update(kind="sp-initiated" if kind == "response" else "logout", owner=sent.owner_hash)
            flow["request"] = {"id": sent.id, "sent_at": sent.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), **sent.details}
            if not db().consume_request(irt, now):
                found.append(finding("request_answered_twice", actual=irt, where="@InResponseTo"))
    else:
        flow["kind"] = "idp-initiated" if kind == "response" else "logout"
    replayed = []
    for label, mid in (("Response", v.id), ("Assertion", v.assertion_id)):
        if mid and not db().first_sighting(name, mid, now, now + SEEN_TTL):
            replayed.append(f"{label} ID {mid}")
    if replayed:
        flow["replayed"] = True
        found.append(finding("response_replayed", actual=", ".join(replayed), where="@ID"))
    return flow, found


def _finish(loaded: Loaded, report: Report, flow: dict[str, Any], relay_state: str | None, now: datetime) -> Any:
    """Seal the result for the receiving browser and send it there (303: a same-site GET carries the cookies)."""
    message = report.messages[0] if report.messages else None
    values = (message.trusted or message.unverified) if message is not None else None
    logout = None
    if values is not None and values.name_id and message is not None and message.kind in ("response", "assertion"):
        logout = {"name_id": values.name_id, "format": values.name_id_format, "session_index": values.session_index}
    owner = flow.pop("owner", None)
    doc = {
        "report": to_json(report),
        "flow": flow,
        "relay_state": relay_state,
        "received_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "logout": logout,
    }
    result_id, key = db().put_result(loaded.sp.name, json.dumps(doc).encode(), owner, now, now + RESULT_TTL)
    path = url_for("testsp.result", name=loaded.sp.name, result_id=result_id)
    resp = make_response(redirect(path, 303))
    resp.set_cookie(
        RESULT_COOKIE,
        key,
        max_age=int(RESULT_TTL.total_seconds()),
        path=path,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _saml_params() -> dict[str, str]:
    """The binding's parameters: from the query string (HTTP-Redirect, GET) or the posted form (HTTP-POST), never
    a mix of both."""
    source = request.args if request.method == "GET" else request.form
    return {k: str(source.get(k)) for k in ("SAMLRequest", "SAMLResponse", "RelayState") if source.get(k)}


def _raw_url() -> str:
    """The URL with the query string exactly as received (request.url re-encodes it, which breaks a Redirect
    binding signature)."""
    return request.base_url + "?" + request.query_string.decode("latin-1")


def _received(loaded: Loaded, parameter: str, kind: str) -> Any:
    now = clock()
    idp = _idp(loaded, now)
    settings = _settings(loaded, idp)
    params = _saml_params()
    relay = params.get("RelayState")
    if request.method == "GET":
        evidence: bytes | str = _raw_url()  # Redirect binding: the signature covers the raw query
    else:
        value = params.get(parameter, "")
        evidence = urlencode({parameter: value, **({"RelayState": relay} if relay else {})})
    report = analyze(evidence, settings, now=now, notes=tuple(idp.notes))
    flow, extra = _extra_findings(loaded.sp.name, report, now, kind)
    report = dataclasses.replace(report, findings=sort_findings(list(report.findings) + extra))
    if secrets.randbelow(50) == 0:  # expired requests, sightings and results go without a cron job too
        db().purge(now)
    return _finish(loaded, report, flow, relay, now)


def csrf_exempt() -> bool:
    """The IdP posts to the ACS and SLO endpoints cross-site (no CSRF token there), but only for a configured
    test SP: any other POST under /sp/ needs the page's token."""
    if request.endpoint not in ("testsp.acs", "testsp.slo") or request.view_args is None:
        return False
    name = str(request.view_args.get("name", ""))
    try:
        return sp.valid_name(name) and db().get(name) is not None
    except StoreError:
        return False


@bp.post("/<name>/acs")
@limits.analyze
def acs(name: str) -> Any:
    loaded = _load(name)
    if not _saml_params().get("SAMLResponse"):
        return render_template(
            "error.html",
            status=400,
            message="No SAMLResponse",
            detail="The Assertion Consumer Service takes a SAMLResponse posted by the IdP (HTTP-POST binding).",
        ), 400
    return _received(loaded, "SAMLResponse", "response")


@bp.route("/<name>/slo", methods=["GET", "POST"])
@limits.analyze
def slo(name: str) -> Any:
    loaded = _load(name)
    params = _saml_params()
    if params.get("SAMLRequest"):
        return _answer_logout(loaded)
    if params.get("SAMLResponse"):
        return _received(loaded, "SAMLResponse", "logout_response")
    return render_template(
        "error.html",
        status=400,
        message="No SAML message",
        detail="The single-logout URL takes a LogoutRequest or LogoutResponse (Redirect or POST binding).",
    ), 400


def _answer_logout(loaded: Loaded) -> Any:
    """IdP-initiated logout: verify the LogoutRequest and answer with a signed LogoutResponse (Success when its
    signature verifies against the app's metadata, RequestDenied otherwise)."""
    now = clock()
    idp = _idp(loaded, now)
    settings = _settings(loaded, idp)
    if request.method == "GET":
        evidence: str = _raw_url()
    else:
        evidence = urlencode({k: v for k, v in _saml_params().items() if k != "SAMLResponse"})
    report = analyze(evidence, settings, now=now)
    message = report.messages[0] if report.messages else None
    if message is None or message.kind != "logout_request":
        abort(400, description="The SAMLRequest is not a readable LogoutRequest.")
    ok = message.signature is not None and message.signature.status.value == "valid"
    destination = idp.slo.get("redirect") or idp.slo.get("post") or ""
    if not destination:
        abort(400, description="The app's federation metadata has no SingleLogoutService to answer to.")
    xml = sp.logout_response(loaded.sp, destination, message.unverified.id, now, "Success" if ok else "Requester")
    binding = "redirect" if idp.slo.get("redirect") else "post"
    relay = _saml_params().get("RelayState", "")
    out = sp.prepare(xml, destination, binding, relay, loaded.keys, "rsa-sha256", "SAMLResponse")
    return _send(loaded, out, _owner_token())


@bp.get("/<name>/result/<result_id>")
def result(name: str, result_id: str) -> Any:
    loaded = _load(name)
    return _result_page(loaded, result_id)


def _open_result(loaded: Loaded, result_id: str) -> dict[str, Any]:
    key = request.cookies.get(RESULT_COOKIE) or ""
    got = db().get_result(result_id, key, clock()) if key else None
    if got is None:
        abort(
            404,
            description="This sign-in report is shown only to the browser that received it, for "
            f"{int(RESULT_TTL.total_seconds() // 60)} minutes. Sign in again from the test SP page.",
        )
    owner, plaintext = got
    if owner is not None and owner_hash(request.cookies.get(OWNER_COOKIE) or "") != owner:
        abort(403, description="This sign-in was started in another browser; its report is shown only there.")
    doc: dict[str, Any] = json.loads(plaintext)
    return doc


def _result_page(loaded: Loaded, result_id: str, status: int = 200, **ctx: Any) -> Any:
    doc = _open_result(loaded, result_id)
    report = from_json(doc["report"])
    view = present.view(report, config().limits(), clock())
    resp = make_response(
        render_template(
            "sp_result.html",
            t=loaded.sp,
            doc=doc,
            flow=doc.get("flow") or {},
            result_id=result_id,
            fields=None,
            **view,
            **ctx,
        ),
        status,
    )
    resp.headers["Cache-Control"] = "no-store"
    if doc.get("logout"):
        _allow_forms_to(resp, list(_idp(loaded, clock()).slo.values()))
    return resp


@bp.post("/<name>/result/<result_id>/share")
@limits.share
def share_result(name: str, result_id: str) -> Any:
    from .sharing import share_report

    loaded = _load(name)
    doc = _open_result(loaded, result_id)
    try:
        created, links, _ = share_report(doc["report"], fields())
    except FormError as e:
        return _result_page(loaded, result_id, 400, share_error=str(e))
    except StoreError:
        return _result_page(loaded, result_id, 503, share_error="Sharing is unavailable: the database is down.")
    return _result_page(loaded, result_id, shared={"created": created, **links})


@bp.post("/<name>/result/<result_id>/logout")
def logout(name: str, result_id: str) -> Any:
    """SP-initiated single logout for the user of this sign-in: a signed LogoutRequest to the IdP."""
    loaded = _load(name)
    doc = _open_result(loaded, result_id)
    who = doc.get("logout") or {}
    if not who.get("name_id"):
        return _result_page(loaded, result_id, 400, logout_error="This sign-in has no NameID to log out.")
    now = clock()
    idp = _idp(loaded, now)
    destination = idp.slo.get("redirect") or idp.slo.get("post") or ""
    if not destination:
        return _result_page(
            loaded,
            result_id,
            400,
            logout_error="The app's federation metadata has no SingleLogoutService (Logout URL).",
        )
    binding = "redirect" if idp.slo.get("redirect") else "post"
    request_id = sp.new_id()
    xml = sp.logout_request(
        loaded.sp, destination, request_id, now, who["name_id"], who.get("format"), who.get("session_index")
    )
    out = sp.prepare(xml, destination, binding, "", loaded.keys, "rsa-sha256", "SAMLRequest")
    token = _owner_token()
    details = {"destination": destination, "binding": binding, "xml": out.xml.decode(), "started": "single logout"}
    db().save_request(request_id, name, "logout", owner_hash(token), now, now + REQUEST_TTL, details)
    return _send(loaded, out, token)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.extensions.setdefault("samldebug.csrf_exempt", []).append(csrf_exempt)
