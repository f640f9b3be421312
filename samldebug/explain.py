"""Find Entra errors (AADSTS codes) and SP-library error messages wherever they appear, and explain them.

Sources: a SAML StatusMessage / StatusDetail, the Entra error page HTML (its `$Config` block: `sErrorCode`,
`strServiceExceptionMessage`), `error` / `error_description` parameters of a redirect, a token-endpoint JSON error,
and free text pasted from a screenshot ("AADSTS50011: The redirect URI … Trace ID: …"). Microsoft changes the
wording, so matching is on the number only.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qsl, urlsplit

from . import catalog, linear, urldiff
from .catalog import finding
from .entra import GUID_TEXT
from .model import EntraError, Finding

# Pasted text is untrusted: every pattern is RE2 (linear time, see samldebug/linear.py).
_AADSTS = linear.compile(r"AADSTS(\d{4,8})\b(?::?\s*([^\r\n]*))?")
_TRACE = linear.compile(
    rf"(?:Trace ID|Request Id|\"?trace_id\"?|\"?requestId\"?)\W{{1,4}}({GUID_TEXT})", ignore_case=True
)
_CORRELATION = linear.compile(
    rf"(?:Correlation ID|\"?correlation_id\"?|\"?correlationId\"?)\W{{1,4}}({GUID_TEXT})", ignore_case=True
)
_TIMESTAMP = linear.compile(
    r"(?:Timestamp|\"?timestamp\"?)\W{1,4}(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?)", ignore_case=True
)
_CONFIG_CODE = linear.compile(r'"sErrorCode"\s*:\s*"(\d+)"')
_CONFIG_EXCEPTION = linear.compile(r'"strServiceExceptionMessage"\s*:\s*"((?:[^"\\]|\\.)*)"')
_CONFIG_TEXT = linear.compile(r'"sErrTxt"\s*:\s*"((?:[^"\\]|\\.)*)"')
_MAX_TEXT = 512 * 1024  # only the head of a huge paste is scanned


def _js_unescape(s: str) -> str:
    try:
        return str(json.loads(f'"{s}"'))
    except ValueError:
        return s


def _ids(text: str) -> tuple[str | None, str | None, str | None]:
    t, c, ts = _TRACE.search(text), _CORRELATION.search(text), _TIMESTAMP.search(text)
    return (t.group(1) if t else None, c.group(1) if c else None, ts.group(1) if ts else None)


def find_aadsts(text: str, source: str = "text") -> list[EntraError]:
    """Every distinct AADSTS code in `text` (HTML error pages included), with the IDs support needs."""
    text = text[:_MAX_TEXT]
    if "$Config" in text or "sErrorCode" in text or "strServiceExceptionMessage" in text:
        parts = [_js_unescape(m.group(1)) for m in _CONFIG_EXCEPTION.finditer(text)]
        parts += [_js_unescape(m.group(1)) for m in _CONFIG_TEXT.finditer(text)]
        codes = [m.group(1) for m in _CONFIG_CODE.finditer(text)]
        scan = "\n".join(parts + [f"AADSTS{c}" for c in codes]) + "\n" + html.unescape(text)
        source = "error page" if source == "text" else source
    else:
        scan = html.unescape(text) if "&#" in text or "&amp;" in text else text
    trace, correlation, timestamp = _ids(scan)
    seen: dict[str, EntraError] = {}
    for m in _AADSTS.finditer(scan):
        code, message = m.group(1), (m.group(2) or "").strip() or None
        previous = seen.get(code)
        if previous is not None and (previous.message or not message):
            continue
        seen[code] = EntraError(code, message, trace, correlation, timestamp, source)
    return list(seen.values())


def from_params(params: dict[str, str], source: str = "redirect") -> list[EntraError]:
    """`error` / `error_description` (OAuth-style redirects, token endpoint JSON)."""
    description = params.get("error_description") or ""
    found = find_aadsts(description, "error_description") if description else []
    codes = params.get("error_codes")
    if not found and codes:
        found = [EntraError(c, description or None, None, None, None, source) for c in re.findall(r"\d{4,8}", codes)]
    return found


def errors_in_input(text: str) -> list[EntraError]:
    """Entra errors in a pasted input that is not a SAML message: a URL, JSON, HTML or plain text."""
    stripped = text.strip()
    if stripped.startswith(("http://", "https://")):
        parts = urlsplit(stripped)
        params = dict(parse_qsl(parts.query)) | dict(parse_qsl(parts.fragment))
        if "error" in params or "error_description" in params:
            return from_params(params)
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except (ValueError, RecursionError):  # nested 100,000 deep is not an Entra error either
            doc = None
        if isinstance(doc, dict) and ("error_description" in doc or "error_codes" in doc):
            found = from_params(
                {
                    "error_description": str(doc.get("error_description", "")),
                    "error_codes": " ".join(str(c) for c in doc.get("error_codes", []) or []),
                },
                "error JSON",
            )
            return [
                EntraError(
                    e.code,
                    e.message,
                    e.trace_id or doc.get("trace_id"),
                    e.correlation_id or doc.get("correlation_id"),
                    e.timestamp or doc.get("timestamp"),
                    "error JSON",
                )
                for e in found
            ]
    return find_aadsts(stripped)


def _url(code: str) -> str:
    return f"https://login.microsoftonline.com/error?code={code}"


def aadsts_findings(errors: list[EntraError], *, facts: dict[str, str] | None = None) -> list[Finding]:
    """One finding per code. `facts` lets a fix name the exact strings (e.g. the ACS URL sent and the Reply
    URL configured)."""
    out = []
    for e in errors:
        entry = catalog.aadsts().get(e.code)
        ids = e.ids()
        actual = f"AADSTS{e.code}" + (f": {e.message}" if e.message else "") + (f" ({ids})" if ids else "")
        if entry is None:
            out.append(
                finding(
                    "aadsts_error",
                    f"AADSTS{e.code}: not in samldebug's catalog",
                    actual=actual,
                    fix=f"Look the code up at {_url(e.code)} and in Entra → Monitoring & health → Sign-in logs.",
                    where=e.source,
                )
            )
            continue
        steps = list(entry.fix)
        extra = _specific_fix(e.code, facts or {})
        if extra:
            steps.insert(0, extra)
        out.append(
            finding(
                "aadsts_error",
                f"AADSTS{e.code}: {entry.title}",
                expected=entry.cause,
                actual=actual,
                fix=" ".join(f"{i + 1}. {s}" for i, s in enumerate(steps)),
                where=e.source,
                severity=entry.severity,
            )
        )
    return out


def _specific_fix(code: str, facts: dict[str, str]) -> str | None:
    """When the evidence carries the values, name the exact strings to make equal."""
    if code == "50011" and facts.get("acs_url"):
        configured = facts.get("reply_urls")
        return (
            f"The request asked for ACS URL `{facts['acs_url']}`"
            + (f"; the Reply URL configured is `{configured}`" if configured else "")
            + ": make them exactly equal (add the URL under Basic SAML Configuration → Reply URL, or fix the SP)."
        )
    if code in ("700016", "70001", "650056") and facts.get("issuer"):
        configured = facts.get("identifier")
        return (
            f"The request's Issuer is `{facts['issuer']}`"
            + (f"; the Identifier (Entity ID) configured is `{configured}`" if configured else "")
            + ": make them exactly equal."
        )
    return None


def library_findings(text: str) -> list[Finding]:
    """SP-library error messages in pasted text → the same finding codes the engine uses."""
    text = text[:_MAX_TEXT]
    out: list[Finding] = []
    seen: set[str] = set()
    skews = catalog.libraries()
    for msg in catalog.library_messages():
        m = msg.pattern.search(text)
        if m is None or msg.finding in seen:
            continue
        seen.add(msg.finding)
        if _behind_proxy(msg.library, msg.finding, m.group(0)):
            out.append(
                finding(
                    "sp_url_behind_proxy",
                    f"{msg.library}: {catalog.entry('sp_url_behind_proxy').title}",
                    actual=m.group(0)[:300],
                    where=f"{msg.library} error message",
                )
            )
            continue
        entry = catalog.entry(msg.finding)
        lib = skews.get(msg.library)
        skew = ""
        if lib is not None and lib.default_skew_seconds >= 0 and msg.finding in ("expired", "not_yet_valid"):
            skew = f" {msg.library} allows {lib.default_skew_seconds} s of clock skew by default" + (
                f" ({lib.skew_setting})." if lib.skew_setting else "."
            )
        out.append(
            finding(
                msg.finding,
                f"{msg.library}: {entry.title}",
                actual=m.group(0)[:300],
                fix=f"{entry.fix} {msg.note}{skew}",
                where=f"{msg.library} error message",
                severity=entry.severity,
            )
        )
    return out


_RECEIVED_AT = linear.compile(r"received at (\S+) instead of (\S+)")
# Which URL a library names first in its "received at X instead of Y" line: the SP's own (rebuilt) URL or the
# Destination Entra posted to (python3-saml: the SP's first; ruby-saml: the Destination first).
_SP_URL_FIRST = {"python3-saml": True, "ruby-saml": False}


def _behind_proxy(library: str, code: str, text: str) -> bool:
    """A "received at http://… instead of https://…" line where only the scheme differs, and the SP's side is the
    http one: the SP sits behind a TLS-terminating proxy and rebuilt its URL wrongly. Entra's Reply URL is right."""
    first = _SP_URL_FIRST.get(library)
    m = _RECEIVED_AT.search(text) if code == "destination_mismatch" and first is not None else None
    if m is None:
        return False
    sp_url, entra_url = (m.group(1), m.group(2)) if first else (m.group(2), m.group(1))
    if urldiff.is_plain_http(entra_url) and entra_url.lower().startswith("http://"):
        # Entra posts only to https Reply URLs (http for localhost only): the plain-http URL is the SP's own,
        # whichever library's word order the text follows (python3-saml and ruby-saml share the wording).
        sp_url, entra_url = entra_url, sp_url
    if not (sp_url.lower().startswith("http://") and entra_url.lower().startswith("https://")):
        return False
    return sp_url[len("http://") :].rstrip("/").lower() == entra_url[len("https://") :].rstrip("/").lower()


def status_errors(status_message: str | None, status_detail: str | None) -> list[EntraError]:
    found: list[EntraError] = []
    for source, text in (("StatusMessage", status_message), ("StatusDetail", status_detail)):
        if text:
            found += [e for e in find_aadsts(text, source) if e.code not in {f.code for f in found}]
    return found
