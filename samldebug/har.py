"""Read a browser capture (HAR 1.2, SAML-tracer export) and keep only the SAML messages and Entra errors in it.

Producers: Chrome / Edge ("WebInspector"), Firefox, Safari ("WebKit Web Inspector") HAR exports, and the SAML-tracer
extension's JSON export. Each producer quirk is handled where it matters and named in a comment.

Where SAML travels: the query of a request URL (HTTP-Redirect binding, with SigAlg / Signature), a form POST body
(HTTP-POST binding), the auto-submit HTML form in a response body (the IdP's copy of what the browser is about to
post), and the Location header of a redirect. Entra errors: the error page of an Entra login host (AADSTS code,
`$Config.sErrorCode`) and URLs or redirects carrying `error` / `error_description`.

Streaming, not loading: a 100 MiB capture is never turned into Python objects. msgspec decodes the file in one
pass into small structs that declare only the fields used (everything else is skipped in C); request and response
bodies stay `Raw` slices of the input (zero copy; the input may be an mmap). msgspec calls each entry's
`__post_init__` as soon as the entry is decoded (a SAML-tracer request's too): the reader takes what it needs there
and the entry drops the rest, so memory does not grow with the capture. When the input is a read-only mmap (the CLI
maps a capture file), the pages the decoder has passed are unmapped as it goes on (_PageRelease), so the file does
not stay resident either. A body is searched in place (re on the buffer) and decoded to text only when it holds a
SAML form or an Entra error, and then only a window around it. What is kept is copied out as `str`, so no slice of
the input outlives `read_capture` (an mmap can be closed right after). When an entry has a shape the structs do not
accept, a slower path splits the entries first and decodes each alone, so that one malformed entry is skipped
instead of failing the capture (that path reads the whole file before its first entry: its pages are all resident
at once, then given back entry by entry).

Privacy: cookies, Authorization headers, Set-Cookie, passwords and tokens are never copied out; `Capture.dropped`
counts what the capture held and the reader did not keep.
"""

from __future__ import annotations

import base64
import bisect
import html
import mmap
import re
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote, unquote_plus, urljoin, urlsplit

import msgspec

from . import linear
from .catalog import finding
from .config import Limits, MiB
from .decode import mib, oversized
from .entra import ENTRA_HOSTS  # whose pages are searched for AADSTS errors
from .instants import parse_instant
from .model import AnalysisStop, Finding

MAX_CAPTURE_BYTES: Final = 256 * MiB
ERROR_TEXT_CAP: Final = 64 * 1024  # CaptureEntry.text for error pages and error redirects
ANSWER_CAP: Final = 16 * 1024  # CaptureEntry.answer: the SP's answer to a posted SAMLResponse
WHOLE_BODY_CAP: Final = 1 * MiB  # bodies up to this size are decoded whole once they matter; larger: a window
BASE64_BODY_CAP: Final = 16 * MiB  # base64-encoded HTML bodies larger than this are not decoded
FORM_SCAN_CAP: Final = 1 * MiB  # form bodies scanned for password / token field names

SAML_PARAMS: Final = ("SAMLRequest", "SAMLResponse")
_BASE64_PARAMS: Final = frozenset({"SAMLRequest", "SAMLResponse", "Signature"})
MALFORMED_CAPTURE: Final = "malformed_capture"
# Always present in Capture.dropped (zero included): what a capture holds that the reader never keeps.
PRIVACY_KEYS: Final = ("cookies", "set_cookie_headers", "authorization_headers", "password_fields", "tokens")
_COUNTED: Final = (*PRIVACY_KEYS, "non_saml_entries")

# --- field names the reader never keeps and sanitize redacts -------------------------------------------------

_PASSWORD_FIELD = re.compile(r"pass(?:word|wd|code|phrase)?|pwd|secret|otc|otp|totp|pin|mfa_?code", re.I)
_TOKEN_FIELD = re.compile(
    r"(?:access|refresh|id|session|bearer|csrf|xsrf|authenticity|sso|flow)?_?token|code|client_secret|"
    r"(?:client_)?assertion|samlart|canary|api_?canary|sft|x-ms-refreshtokencredential|logintoken",
    re.I,
)


REDACTED: Final = "[redacted]"
# Credentials that can sit in text the reader keeps (an Entra error page, an error URL) and that sanitize removes
# from bodies: Entra's $Config flow token and canaries, OAuth parameters in URLs, JWTs.
# (Patterns over untrusted text are RE2: linear time whatever the input, see samldebug/linear.py.)
JS_SECRET: Final = linear.compile(
    r'"(sFT|canary|apiCanary|flowToken|FlowToken|access_token|refresh_token|id_token|client_secret|password|'
    r'passwd|sessionToken)"(\s*:\s*)"((?:[^"\\]|\\.)*)"'
)
# group 1: the separator before the name ([?&#]), 2: the name, 3: the value
URL_TOKEN: Final = linear.compile(
    r"([?&#])(access_token|id_token|refresh_token|code|client_secret|client_assertion|assertion|SAMLart|token)"
    r"=([^&\"'\s<>#\\]+)",
    ignore_case=True,
)
JWT: Final = linear.compile(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*")


def scrub_text(text: str) -> tuple[str, int]:
    """`text` without the credentials above, and how many were removed."""
    removed = 0

    def js(m: linear.Match[str]) -> str:
        nonlocal removed
        removed += 1
        return f'"{m.group(1)}"{m.group(2)}"{REDACTED}"'

    def param(m: linear.Match[str]) -> str:
        nonlocal removed
        removed += 1
        return f"{m.group(1)}{m.group(2)}=%5Bredacted%5D"

    def jwt(m: linear.Match[str]) -> str:
        nonlocal removed
        removed += 1
        return REDACTED

    if '"' in text:
        text = JS_SECRET.sub(js, text)
    if "=" in text:
        text = URL_TOKEN.sub(param, text)
    if "eyJ" in text:
        text = JWT.sub(jwt, text)
    return text, removed


def is_password_field(name: str) -> bool:
    """A form field or parameter that carries a password or one-time code (Entra: `passwd`, `otc`)."""
    return _PASSWORD_FIELD.fullmatch(name.strip()) is not None or "password" in name.lower()


_CREDENTIAL_WORD: Final = linear.compile(
    r"secret|apikey|accesskey|privatekey|token|password|passwd|credential|sessionid|authcode", ignore_case=True
)


def is_token_field(name: str) -> bool:
    """A form field, URL parameter or JSON key that carries a bearer credential or a replayable code: the names
    above, and any name whose words (camelCase, snake_case, kebab-case alike) say secret, key, token or password
    (`clientSecret`, `apiKey`, `x-api-key`)."""
    stripped = name.strip()
    if _TOKEN_FIELD.fullmatch(stripped) is not None:
        return True
    compact = stripped.lower().replace("_", "").replace("-", "")
    return len(compact) <= 100 and _CREDENTIAL_WORD.search(compact) is not None


def reads_body(mime: str) -> bool:
    """Whether the reader looks into a body of this media type for SAML (sanitize must then look too: anything
    the analyser can read as SAML, sanitize sees)."""
    return _SKIP_MIME.search(mime) is None


# --- the public result ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureEntry:
    index: int  # position of the entry in the capture (HAR log.entries index / SAML-tracer request index)
    started: datetime | None  # startedDateTime (tz-aware UTC) or None (SAML-tracer has none)
    method: str
    url: str  # the request URL (query kept as received)
    host: str
    status: int | None  # HTTP response status
    kind: str  # "saml" | "error"
    parameter: str | None  # "SAMLRequest" | "SAMLResponse" for kind == "saml"
    value: str | None  # the parameter value as carried (base64 / deflate+base64), URL-decoded once
    binding: str | None  # "post" | "redirect" | "form-in-response" | "location"
    relay_state: str | None
    sig_alg: str | None
    signature: str | None
    query: str | None  # raw query string as received, for Redirect-binding signature checks
    text: str | None  # kind == "error": the text to scan for AADSTS codes, at most 64 KiB
    where: str  # e.g. "HAR entry 17: POST https://sp.example.com/saml/acs (form field SAMLResponse)"
    # For a SAMLResponse posted to the SP: the SP's answer to that POST (its body text, scrubbed, at most
    # ANSWER_CAP characters), so an SP-library error page can be read. None when the capture has no body.
    answer: str | None = None


@dataclass(frozen=True)
class Capture:
    format: str  # "har" | "saml-tracer"
    producer: str | None  # HAR creator "name version" (Chrome/Edge "WebInspector", "Firefox", "WebKit Web Inspector")
    entries: tuple[CaptureEntry, ...]  # SAML-relevant only, in capture order
    total_entries: int
    # What was not kept, by kind: cookies, set_cookie_headers, authorization_headers, password_fields, tokens,
    # non_saml_entries (always present); when non-zero also unreadable_entries, large_bodies_not_scanned,
    # oversized_values, filtered_values (SAML-tracer values hashed at export, with no decoded copy).
    dropped: dict[str, int]
    # SAML-tracer: the export's own "timestamp" (written right after the last request), the only time it has.
    exported_at: datetime | None = None


# --- findings ------------------------------------------------------------------------------------------------


def malformed(title: str, actual: str | None = None) -> Finding:
    return finding(
        "malformed_capture",
        title,
        expected="a complete HAR (JSON with log.entries) or SAML-tracer export (JSON with requests)",
        actual=actual,
    )


def json_error(e: msgspec.DecodeError) -> Finding:
    """msgspec's complaint about a capture that is not valid JSON, as a finding."""
    if "truncated" in str(e):
        return malformed("The capture file is cut off: its JSON ends before the document closes", str(e))
    return malformed("The capture file is not valid JSON", str(e))


def not_a_capture(title: str, actual: str | None = None) -> Finding:
    return finding(
        "not_saml",
        title,
        expected="a HAR file (JSON with log.entries) or a SAML-tracer export (JSON with requests)",
        actual=actual,
    )


# --- msgspec shapes: only the fields read; everything else is skipped in C -----------------------------------

_NULL: Final = msgspec.Raw(b"null")


class _Creator(msgspec.Struct):
    name: str | None = None
    version: str | None = None


class _Log(msgspec.Struct):
    creator: _Creator | None = None
    entries: list[msgspec.Raw] | None = None


class _Top(msgspec.Struct):
    log: _Log | None = None
    requests: list[msgspec.Raw] | None = None  # SAML-tracer
    timestamp: int | float | str | None = None  # SAML-tracer: the export time (ms since the epoch)


class _Header(msgspec.Struct):
    name: str = ""
    value: msgspec.Raw = _NULL  # decoded only for the few headers used


class _Param(msgspec.Struct):
    name: str = ""
    value: msgspec.Raw = _NULL


class _PostData(msgspec.Struct):
    mimeType: str | None = None  # noqa: N815 - HAR field name
    text: msgspec.Raw = _NULL
    params: list[_Param] | None = None


class _Request(msgspec.Struct):
    method: str = ""
    url: str = ""
    headers: list[_Header] | None = None
    cookies: list[msgspec.Raw] | None = None  # counted, never read
    postData: _PostData | None = None  # noqa: N815


class _Content(msgspec.Struct):
    mimeType: str | None = None  # noqa: N815
    text: msgspec.Raw = _NULL
    encoding: str | None = None


class _Response(msgspec.Struct):
    status: int | float | str | None = None
    headers: list[_Header] | None = None
    cookies: list[msgspec.Raw] | None = None
    content: _Content | None = None
    redirectURL: str | None = None  # noqa: N815


class _Entry(msgspec.Struct):
    # A `str | None`, decoded by the reader (_STARTED): kept as the file's own bytes, it also tells the reader where
    # in a mapped file the decoder is (_PageRelease).
    startedDateTime: msgspec.Raw = _NULL  # noqa: N815
    request: _Request | None = None
    response: _Response | None = None

    def __post_init__(self) -> None:
        # msgspec calls this as soon as an entry is decoded, in the middle of decoding the whole file: the reader
        # takes what it needs, then the entry lets go of everything, so the list msgspec builds stays tiny.
        reader = _SINK.get()
        if reader is not None:
            reader.har_record(self)
            self.startedDateTime, self.request, self.response = _NULL, None, None


class _StreamLog(msgspec.Struct):
    creator: _Creator | None = None
    entries: list[_Entry] | None = None


class _StreamTop(msgspec.Struct):
    log: _StreamLog | None = None
    requests: list[_TracerEntry] | None = None
    timestamp: int | float | str | None = None


_SINK: Final[ContextVar[_Reader | None]] = ContextVar("samldebug_har_reader", default=None)
_TRACER_SINK: Final[ContextVar[_Reader | None]] = ContextVar("samldebug_tracer_reader", default=None)


class _TracerHeader(msgspec.Struct):
    name: str = ""
    value: Any = None


class _TracerRequest(msgspec.Struct):
    method: str = ""
    url: str = ""
    # SAML-tracer >= 1.0 writes headers as {name, value}; older exports as [name, value] pairs.
    requestHeaders: list[_TracerHeader | list[Any]] | None = None  # noqa: N815
    responseHeaders: list[_TracerHeader | list[Any]] | None = None  # noqa: N815
    post: list[list[Any]] | None = None  # [name, value] pairs, values already URL-decoded by the browser
    postData: dict[str, Any] | str | None = None  # noqa: N815 - {name: [values]}, or "{overwritten}"
    saml: str | None = None  # SAML-tracer's own decoded copy of the message (XML text)
    responseStatus: int | float | str | None = None  # noqa: N815


class _TracerEntry(_TracerRequest):
    """A SAML-tracer request of the fast path: handed to the reader as soon as it is decoded, like _Entry."""

    def __post_init__(self) -> None:
        reader = _TRACER_SINK.get()
        if reader is not None:
            reader.tracer_record(self)
            self.requestHeaders = self.responseHeaders = self.post = self.postData = self.saml = None
            self.url = self.method = ""  # the reader kept what it needs: no request's URL outlives its turn


_STREAM_DECODER: Final = msgspec.json.Decoder(_StreamTop)
_TOP_DECODER: Final = msgspec.json.Decoder(_Top)
_ENTRY_DECODER: Final = msgspec.json.Decoder(_Entry)
_TRACER_DECODER: Final = msgspec.json.Decoder(_TracerRequest)
_STR_DECODER: Final = msgspec.json.Decoder(str)
_STARTED: Final = msgspec.json.Decoder(str | None)
_JSON: Final = msgspec.json.Encoder()

# --- byte and text patterns ----------------------------------------------------------------------------------

_SAML_MARK: Final = re.compile(rb"SAMLRe")  # one literal: re scans for it at memchr speed
_AADSTS_MARK: Final = re.compile(rb"AADSTS")
_ERRCODE_MARK: Final = re.compile(rb"sErrorCode")
_AADSTS_CODE: Final = re.compile(r"AADSTS\d{4,8}")
_CONFIG_ERROR: Final = re.compile(r'"sErrorCode"\s*:\s*"\d+"')
PERCENT_ESCAPE: Final = re.compile(r"%[0-9A-Fa-f]{2}")
_URL_SECRET: Final = linear.compile(
    r"[?&#;]([A-Za-z_\-]*(?:token|code|secret|assertion|SAMLart|canary))=", ignore_case=True
)
UPLOAD_HEADERS: Final = re.compile(r"\A(?:[A-Za-z][A-Za-z0-9-]*:[^\r\n]*\r?\n)+\r?\n")
_SAFE_CUT: Final = re.compile(rb"[ <>=;,:(){}\[\]]")
_FORM_OPEN: Final = linear.compile(r"<form\b[^>]*>", ignore_case=True)
_FORM_CLOSE: Final = linear.compile(r"</form\s*>", ignore_case=True)
INPUT_TAG: Final = linear.compile(r"<input\b[^>]*>", ignore_case=True)
ATTRIBUTE: Final = linear.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_MULTIPART_FIELD: Final = linear.compile(
    r'name="(SAMLRequest|SAMLResponse|RelayState)"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n'
)
_SKIP_MIME: Final = re.compile(
    r"^(?:image|font|audio|video)/|javascript|ecmascript|css|wasm|protobuf|octet-stream", re.I
)
_FILTERED: Final = ("{hash:", "{obf:", "{overwritten}")


# --- small helpers -------------------------------------------------------------------------------------------


def _text(raw: msgspec.Raw) -> str | None:
    """A Raw JSON value as text, or None when it is not a string."""
    if len(raw) < 2 or memoryview(raw)[0] != 0x22:  # '"'
        return None
    try:
        return _STR_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _window(raw: msgspec.Raw, center: int, before: int, after: int) -> str | None:
    """Part of a large JSON string value, decoded without decoding the rest.

    The cut points are bytes that can never be inside a JSON escape sequence (`\\uXXXX`, `\\"`…) nor inside a UTF-8
    sequence, so the slice is itself valid JSON string content.
    """
    view = memoryview(raw)
    if len(view) < 2 or view[0] != 0x22:
        return None
    lo, hi = max(1, center - before), min(len(view) - 1, center + after)
    chunk = bytes(view[lo:hi])
    # The start and the end of the string content are safe cuts too.
    found = _SAFE_CUT.search(chunk)
    first = 0 if lo == 1 else (found.start() if found else -1)
    last = len(chunk) - 1 if hi == len(view) - 1 else max(chunk.rfind(c) for c in (b" ", b">", b"<", b"=", b";"))
    if first < 0 or last < first:
        return None
    try:
        return _STR_DECODER.decode(b'"' + chunk[first : last + 1] + b'"')
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _header_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _short(url: str) -> str:
    """scheme://host/path of a URL, for `where` (a Redirect URL carries kilobytes of query)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:200]
    if not parts.scheme:
        return url.split("?", 1)[0][:200]
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]


def _join(base: str, location: str) -> str:
    """A Location header made absolute (HTTP allows a relative one)."""
    try:
        return urljoin(base, location)
    except ValueError:
        return location


def _status(value: object) -> int | None:
    # Chrome and Firefox write 0 when no response arrived (aborted, blocked by the client); SAML-tracer writes ""
    # when it saw no response. Both mean "no status".
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if 0 < value < 1000 else None
    if isinstance(value, str) and value.strip().isdigit():
        return _status(int(value.strip()))
    return None


def decode_param(name: str, raw_value: str, *, encoded: bool = True) -> str:
    """One parameter value, URL-decoded once. Base64 values keep a literal '+': base64 never contains a space, so a
    '+' there is a '+' some SP forgot to encode, not an encoded space."""
    if not encoded:
        return raw_value
    return unquote(raw_value) if name in _BASE64_PARAMS else unquote_plus(raw_value)


def split_query(query: str) -> list[tuple[str, str]]:
    """`a=1&b=2` → decoded (name, value) pairs, in order, blanks kept."""
    out: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        name_raw, _, value_raw = part.partition("=")
        name = unquote_plus(name_raw)
        out.append((name, decode_param(name, value_raw)))
    return out


def _first(pairs: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in pairs if n == name), None)


def _strip_upload_headers(text: str) -> str:
    # Firefox: postData.text can begin with the upload stream's own headers ("Content-Type: …\r\nContent-Length:
    # …\r\n\r\n") ahead of the form body; Firefox's own form view skips those lines too.
    m = UPLOAD_HEADERS.match(text)
    return text[m.end() :] if m else text


_TAG_NAME: Final = re.compile(r"<[A-Za-z]+")


def _fields_of_tag(tag: str) -> dict[str, str]:
    """The attributes of one start tag (`<input …>`, `<form …>`), names lower-cased, values as written."""
    name = _TAG_NAME.match(tag)
    attrs: dict[str, str] = {}
    for m in ATTRIBUTE.finditer(tag[name.end() if name else 0 :]):
        key = m.group(1).lower()
        if key not in attrs:
            attrs[key] = next((g for g in m.groups()[1:] if g is not None), "")
    return attrs


@dataclass(frozen=True)
class HtmlForm:
    action: str | None
    fields: dict[str, str]  # name → HTML-unescaped value (first occurrence)
    start: int
    end: int


def html_forms(page: str) -> list[HtmlForm]:
    """The forms of an HTML page that carry SAMLRequest / SAMLResponse (the auto-submit page of the POST binding)."""
    forms: list[HtmlForm] = []
    if "<form" not in page.lower():
        return forms
    closes = [c.start() for c in _FORM_CLOSE.finditer(page)]  # one pass each, never a search per form
    pos = 0
    for m in _FORM_OPEN.finditer(page):
        if m.start() < pos:
            continue  # inside the previous form
        after = bisect.bisect_left(closes, m.end())
        end = closes[after] if after < len(closes) else len(page)
        region = page[m.end() : end]
        if "SAMLRe" in region:
            fields: dict[str, str] = {}
            for tag in INPUT_TAG.finditer(region):
                attrs = _fields_of_tag(tag.group(0))
                name = html.unescape(attrs.get("name", ""))
                if name and name not in fields:
                    fields[name] = html.unescape(attrs.get("value", ""))
            if any(p in fields for p in SAML_PARAMS):
                action = _fields_of_tag(m.group(0)).get("action")
                forms.append(HtmlForm(html.unescape(action) if action else None, fields, m.start(), end))
        pos = end
    return forms


def url_has_error(url: str) -> bool:
    """An OAuth-style error redirect: `error_description`, or `error` with Entra's companions, in query or fragment."""
    if "error" not in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    names = {n for n, _ in split_query(parts.query)} | {n for n, _ in split_query(parts.fragment)}
    if "error_description" in names:
        return True
    if "error" not in names:
        return False
    return (parts.hostname or "").lower() in ENTRA_HOSTS or bool(names & {"error_codes", "error_subcode", "error_uri"})


# --- giving a mapped capture's pages back --------------------------------------------------------------------

RELEASE_STEP: Final = 1 * MiB  # pages are given back in steps this large: one madvise call each
_NEEDLE: Final = 64  # bytes of a slice searched for to learn how far the decoder has read
_MIN_LANDMARK: Final = 16  # shorter slices are not searched for (a short needle says little)
_FIND_BODY: Final = 4 * 1024  # an entry with a body this long is found at once: the search then skips the body
_FIND_EVERY: Final = 16  # otherwise one entry in this many is found (by its startedDateTime / URL)


class _PageRelease:
    """Unmaps the pages of a read-only file mapping that the decoder has already read, while it goes on.

    msgspec decodes the whole capture in one call, and every page it touches stays mapped into this process until
    the map is closed: without this, a 100 MiB HAR costs 100 MiB of resident memory (file pages, shared with the
    page cache, but counted against the process all the same). After an entry is decoded, the reader hands over
    something of it that the file holds verbatim: a large body, else, now and then, its startedDateTime (both Raw
    slices of the map; a SAML-tracer request: its URL, as JSON writes it). Searching the map for its first bytes,
    forward from the last known offset (C speed, linear time: CPython's two-way search), says where it is, so the
    decoder is at least at its end; `madvise(MADV_DONTNEED)` on the whole pages before that offset unmaps them (one
    call per RELEASE_STEP). Each search scans only what lies between the last thing found and this one, so the
    searches together read the file about once more, at several GB/s (never more than twice: a budget). Captures
    with neither bodies nor times (hand-made) are found by their small bodies, or not at all: then nothing is
    released, as before. For a read-only shared mapping this only
    drops this process's references: the page cache keeps the data, and any later read of those bytes (a Raw still
    held, a second pass) faults them in again, unchanged. So an offset that is off only releases less (or has pages
    read twice), never changes a result. And it can only be low: the search starts at an offset that every later
    entry lies beyond, and finds the entry's own copy of those bytes or an earlier one.

    What stays resident: up to RELEASE_STEP behind the decoder, plus the entry being decoded (one 50 MiB body
    stays mapped until its entry ends).
    """

    __slots__ = ("_map", "_advice", "_passed", "_released", "_waiting", "_started", "_urls", "_budget")

    def __init__(self, mapped: mmap.mmap, advice: int) -> None:
        self._map = mapped
        self._advice = advice
        self._passed = 0  # the decoder has read at least this far into the map
        self._released = 0  # the pages before this offset were released
        self._waiting = 0  # entries since the last search
        self._started = b""  # the previous entry's startedDateTime, as written
        self._urls: set[int] = set()  # the URLs (hashes) of the SAML-tracer requests since the last search
        # Bytes all searches may scan together: in a capture read as expected they scan what lies between the
        # things found, less than the file; this keeps any capture within two extra passes at C speed.
        self._budget = 2 * len(mapped)

    @staticmethod
    def of(data: object, view: memoryview) -> _PageRelease | None:
        """A releaser for `data` when it is a read-only mmap on a platform with MADV_DONTNEED, else None.

        Read-only (ACCESS_READ) only: such a map is shared and never written through, so dropping its pages loses
        nothing; a private copy-on-write map (ACCESS_COPY) that was written to would lose the writes."""
        advice = getattr(mmap, "MADV_DONTNEED", None)
        if not isinstance(data, mmap.mmap) or advice is None or not view.readonly or not hasattr(data, "madvise"):
            return None
        return _PageRelease(data, advice)

    def again(self) -> _PageRelease:
        """A releaser for a second pass over the same map, from its start."""
        return _PageRelease(self._map, self._advice)

    def entry(self, started: msgspec.Raw, req: _Request, resp: _Response) -> None:
        """One HAR entry has been decoded (msgspec is past its end); `started` is its startedDateTime as written."""
        content, post = resp.content, req.postData
        body = _NULL if content is None else content.text
        if post is not None and len(post.text) > len(body):
            body = post.text
        if len(body) >= _FIND_BODY:
            # A large body is found at once: the next search starts after it, so no search ever scans a body.
            # (The same body twice, e.g. a polled resource: each search finds the next copy, the entry's own.)
            self._waiting = 0
            self.passed(body)
            return
        # Small entries: their time is found, once in a while. Times only grow along a capture, so the first copy
        # of this entry's time after the last offset found is in this entry (or, in a run of entries started in
        # the same millisecond, an earlier one of the run: such a run is found entry by entry, never falling
        # behind by more than one entry).
        # A copy (no slice of the input may outlive read_capture), of what can be a time: never a hostile megabyte.
        written = bytes(started) if len(started) <= _NEEDLE else b""
        if written != self._started:
            self._started = written
            self._waiting += 1
            if self._waiting < _FIND_EVERY:
                return
        self._waiting = 0
        self.passed(written if len(written) >= _MIN_LANDMARK else body)

    def request(self, url: str) -> None:
        """One SAML-tracer request has been decoded. It has no time and no Raw slice: its URL, as JSON writes it, is
        found instead, once in a while, or at once when a request since the last search had the same URL (a polled
        URL would otherwise be found in the first of its copies, ever further behind). The first copy after the last
        offset found is then this request's own, or an earlier one in a request since the last search (a Location
        header pointing here): never more than _FIND_EVERY requests behind."""
        self._waiting += 1
        key = hash(url)  # (not the URL: a hostile export's URLs can be megabytes; a collision costs one search)
        if self._waiting < _FIND_EVERY and key not in self._urls:
            self._urls.add(key)
            return
        self._waiting = 0
        self._urls.clear()
        # The start of the URL as JSON writes it (escapes are per character, so without its closing quote this is
        # the start of the whole URL's JSON too).
        self.passed(_JSON.encode(url[:_NEEDLE])[:-1])

    def passed(self, raw: msgspec.Raw | bytes) -> None:
        """The decoder has read `raw`, bytes the map holds after every slice passed before it (if it holds them)."""
        if len(raw) < _MIN_LANDMARK or self._budget <= 0:
            return
        # At most the budget is scanned, found or not: bytes the file does not hold verbatim (a URL some tool
        # escaped differently) cost one scan to the end, never one per entry.
        limit = min(len(self._map), self._passed + self._budget)
        with memoryview(raw) as head:
            at = self._map.find(head[:_NEEDLE], self._passed, limit)
        self._budget -= (at if at >= 0 else limit) - self._passed
        if at < 0:  # learn nothing
            return
        self._passed = at + len(raw)
        end = self._passed - self._passed % mmap.PAGESIZE
        if end - self._released >= RELEASE_STEP:
            try:
                self._map.madvise(self._advice, self._released, end - self._released)
            except OSError:  # a file system or kernel that refuses: keep the pages, the result is the same
                self._released = len(self._map)
                return
            self._released = end


# --- the reader ----------------------------------------------------------------------------------------------


class _Reader:
    """Accumulates CaptureEntry records and the dropped counts for one capture."""

    def __init__(self, fmt: str, limits: Limits, release: _PageRelease | None = None) -> None:
        self.fmt = fmt
        self.release = release  # HAR read from a read-only mmap: unmap the pages behind the decoder
        self.label = "HAR entry" if fmt == "har" else "SAML-tracer request"
        self.limits = limits
        self.entries: list[CaptureEntry] = []
        self.next_index = 0  # HAR: entries are numbered as msgspec decodes them, in file order
        self.dropped: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self.kept: dict[str, int] = {}  # entries kept, by kind ("saml", "error"); capped by the limits

    def drop(self, what: str, n: int = 1) -> None:
        self.dropped[what] = self.dropped.get(what, 0) + n

    # -- one record ---------------------------------------------------------------------------------------

    def add(
        self,
        ctx: _Ctx,
        *,
        kind: str,
        how: str,
        parameter: str | None = None,
        value: str | None = None,
        binding: str | None = None,
        fields: list[tuple[str, str]] | None = None,
        query: str | None = None,
        text: str | None = None,
    ) -> None:
        pairs = fields or []
        cap = self.limits.max_capture_errors if kind == "error" else self.limits.max_capture_saml_entries
        if self.kept.get(kind, 0) >= cap:
            self.drop(f"{kind}_entries_over_limit")  # counted, never kept: one capture, one bounded report
            return
        self.kept[kind] = self.kept.get(kind, 0) + 1
        if text is not None:
            text, removed = scrub_text(text[:ERROR_TEXT_CAP])
            self.drop("tokens", removed)
        if value is not None and len(value) > self.limits.max_input_bytes:
            # Keep one byte over the cap: the decoder then reports the value as oversized instead of truncated.
            self.drop("oversized_values")
            value = value[: self.limits.max_input_bytes + 1]
            how += f", {mib(len(value))}+ over the input limit"
        self.entries.append(
            CaptureEntry(
                index=ctx.index,
                started=ctx.started,
                method=ctx.method,
                url=ctx.url,
                host=ctx.host,
                status=ctx.status,
                kind=kind,
                parameter=parameter,
                value=value,
                binding=binding,
                relay_state=_first(pairs, "RelayState"),
                sig_alg=_first(pairs, "SigAlg"),
                signature=_first(pairs, "Signature"),
                query=query,
                text=text,
                where=f"{self.label} {ctx.index}: {ctx.method} {_short(ctx.url)} ({how})",
            )
        )

    def url(self, ctx: _Ctx, url: str, *, location: bool) -> None:
        """SAML (Redirect binding) or an error redirect in a URL: the request URL or a Location header."""
        where = f"Location header → {_short(url)}," if location else "URL"
        if "SAMLRe" in url:
            query = url.split("#", 1)[0].partition("?")[2]
            pairs = split_query(query)
            for parameter in SAML_PARAMS:
                value = _first(pairs, parameter)
                if value is not None:
                    self.add(
                        ctx,
                        kind="saml",
                        how=f"{where} query parameter {parameter}",
                        parameter=parameter,
                        value=value,
                        binding="location" if location else "redirect",
                        fields=pairs,
                        query=query,
                    )
        if url_has_error(url):
            self.add(
                ctx,
                kind="error",
                how=f"{where} error / error_description",
                binding="location" if location else "redirect",
                text=url,
            )
        if _URL_SECRET.search(url):
            self.drop("tokens", sum(1 for m in _URL_SECRET.finditer(url) if is_token_field(m.group(1))))

    def form(self, ctx: _Ctx, pairs: list[tuple[str, str]], how: str, *, binding: str = "post") -> None:
        for parameter in SAML_PARAMS:
            value = _first(pairs, parameter)
            if value is not None:
                self.add(
                    ctx,
                    kind="saml",
                    how=f"{how} {parameter}",
                    parameter=parameter,
                    value=value,
                    binding=binding,
                    fields=pairs,
                )

    def count_fields(self, names: list[str]) -> None:
        for name in names:
            if is_password_field(name):
                self.drop("password_fields")
            elif is_token_field(name):
                self.drop("tokens")

    def page(self, ctx: _Ctx, page: str, *, saml: bool, entra: bool, how: str) -> None:
        """A response body (or a window of it): the auto-submit form and the Entra error page."""
        if saml:
            for form in html_forms(page):
                target = f" → {_short(form.action)}" if form.action else ""
                self.form(
                    ctx,
                    list(form.fields.items()),
                    f"{how}: auto-submit form{target}, field",
                    binding="form-in-response",
                )
        if entra:
            code = _CONFIG_ERROR.search(page) or _AADSTS_CODE.search(page)
            if code is not None:
                start = max(0, code.start() - ERROR_TEXT_CAP // 4)
                self.add(ctx, kind="error", how=f"{how}: Entra error page", text=page[start : start + ERROR_TEXT_CAP])

    def body(self, ctx: _Ctx, raw: msgspec.Raw, mime: str, encoding: str | None) -> None:
        if len(raw) < 8 or not reads_body(mime):
            return
        entra = ctx.host in ENTRA_HOSTS
        if encoding == "base64":
            # Chrome writes some bodies (binary, or text it could not decode) as base64; Safari does too.
            if len(raw) > BASE64_BODY_CAP:
                self.drop("large_bodies_not_scanned")
                return
            b64 = _text(raw)
            try:
                page = base64.b64decode(b64 or "", validate=False).decode("utf-8", "replace")
            except ValueError:  # binascii.Error included
                return
            saml = "SAMLRe" in page
            if saml or (entra and ("AADSTS" in page or "sErrorCode" in page)):
                self.page(ctx, page, saml=saml, entra=entra, how="response body (base64)")
            return
        saml_at = _SAML_MARK.search(raw)
        error_at = (_ERRCODE_MARK.search(raw) or _AADSTS_MARK.search(raw)) if entra else None
        if saml_at is None and error_at is None:
            return
        if len(raw) <= WHOLE_BODY_CAP:
            whole = _text(raw)
            if whole is not None:
                self.page(ctx, whole, saml=saml_at is not None, entra=error_at is not None, how="response body")
            return
        # A large page: decode only windows around what was found (a form holds at most one message's worth).
        if saml_at is not None:
            part = _window(raw, saml_at.start(), 64 * 1024, 2 * self.limits.max_input_bytes)
            if part is not None:
                self.page(ctx, part, saml=True, entra=False, how="response body")
        if error_at is not None:
            part = _window(raw, error_at.start(), ERROR_TEXT_CAP // 2, ERROR_TEXT_CAP)
            if part is not None:
                self.page(ctx, part, saml=False, entra=True, how="response body")

    # -- HAR ------------------------------------------------------------------------------------------------

    def har_entry(self, raw: msgspec.Raw) -> None:
        """One entry of the slow path (see _read): decoded on its own, so a malformed one is skipped alone."""
        index = self.next_index
        try:
            _ENTRY_DECODER.decode(raw)  # har_record runs from _Entry.__post_init__
        except (msgspec.DecodeError, UnicodeDecodeError):
            self.drop("unreadable_entries")
        self.next_index = index + 1

    def har_record(self, e: _Entry) -> None:
        # Raised here, a ValidationError (not a string) or DecodeError (not UTF-8) fails the entry as msgspec would.
        started = _STARTED.decode(e.startedDateTime)
        index = self.next_index
        self.next_index += 1
        req = e.request or _Request()
        resp = e.response or _Response()
        before = len(self.entries)
        ctx = _Ctx(index, started, req.method, req.url, resp.status)

        self.drop("cookies", len(req.cookies or ()) + len(resp.cookies or ()))
        location: str | None = None
        for h in req.headers or ():
            n = h.name.lower()
            if n in ("authorization", "proxy-authorization"):
                self.drop("authorization_headers")
            elif n == "cookie" and not req.cookies:
                # Some HAR writers (and hand-edited HARs) leave cookies[] empty but keep the Cookie header.
                self.drop("cookies", (_text(h.value) or "").count(";") + 1)
        for h in resp.headers or ():
            n = h.name.lower()
            if n == "set-cookie":
                # Chrome has written several Set-Cookie lines as one header value separated by "\n".
                self.drop("set_cookie_headers", (_text(h.value) or "").count("\n") + 1)
            elif n == "location" and location is None:
                location = _text(h.value)
        # Chrome, Firefox and Safari all fill redirectURL; a hand-made HAR may have only one of the two.
        location = location or resp.redirectURL or None

        self.url(ctx, req.url, location=False)
        posted = len(self.entries)
        if req.postData is not None:
            self.post(ctx, req.postData)
        posted_end = len(self.entries)
        if location:
            self.url(ctx, _join(req.url, location), location=True)
        content = resp.content
        if content is not None:
            self.body(ctx, content.text, (content.mimeType or "").lower(), content.encoding)
            self.answer(range(posted, posted_end), content)
        if len(self.entries) == before:
            self.drop("non_saml_entries")
        if self.release is not None:
            self.release.entry(e.startedDateTime, req, resp)

    def answer(self, request_entries: range, content: _Content) -> None:
        """Keep the SP's answer to a posted SAMLResponse (an SP-library error page says why it refused)."""
        posted = [i for i in request_entries if self.entries[i].parameter == "SAMLResponse"]
        if not posted or len(content.text) > 4 * ANSWER_CAP:
            return
        body = _text(content.text)
        if body and content.encoding == "base64":
            try:
                body = base64.b64decode(body, validate=False).decode("utf-8", "replace")
            except ValueError:
                return
        if not body:
            return
        body, removed = scrub_text(body[:ANSWER_CAP])
        self.drop("tokens", removed)
        for i in posted:
            self.entries[i] = replace(self.entries[i], answer=body)

    def post(self, ctx: _Ctx, post: _PostData) -> None:
        mime = (post.mimeType or "").lower()
        raw = post.text
        if len(raw) > 2 and memoryview(raw)[0] == 0x22:  # a non-empty JSON string (not null, not absent)
            if _SAML_MARK.search(raw) is None and (len(raw) > FORM_SCAN_CAP or "json" in mime):
                return  # an upload or an API call: no SAML, and no login form to count fields of
            if len(raw) > 2 * self.limits.max_input_bytes + FORM_SCAN_CAP:
                self.drop("large_bodies_not_scanned")
                return
            text = _text(raw)
            if text is None or text.lstrip()[:1] in ("{", "["):
                return
            if "multipart/" in mime:
                pairs = self._multipart(text)
            else:
                pairs = split_query(_strip_upload_headers(text).strip())
            self.count_fields([n for n, _ in pairs])
            self.form(ctx, pairs, "form field")
            return
        # No text: Chrome and Firefox always write postData.text for form posts; other tools (and Chrome's
        # sanitized export) may give only params. Chrome keeps params URL-encoded as sent; Firefox and Safari
        # decode them. A value with %XX in it is still encoded (base64 has no '%').
        pairs = []
        for p in post.params or ():
            value = _text(p.value) or ""
            encoded = bool(PERCENT_ESCAPE.search(value)) or bool(PERCENT_ESCAPE.search(p.name))
            name = unquote_plus(p.name) if encoded else p.name
            pairs.append((name, decode_param(name, value, encoded=encoded)))
        self.count_fields([n for n, _ in pairs])
        self.form(ctx, pairs, "form field")

    @staticmethod
    def _multipart(text: str) -> list[tuple[str, str]]:
        pairs = []
        boundary = 0  # the next "\r\n--" at or after the field; -1 once there is none (never searched again)
        for m in _MULTIPART_FIELD.finditer(text):
            if boundary >= 0 and boundary < m.end():
                boundary = text.find("\r\n--", m.end())
            pairs.append((m.group(1), text[m.end() : boundary if boundary >= 0 else len(text)].strip()))
        return pairs

    # -- SAML-tracer ----------------------------------------------------------------------------------------

    def tracer_request(self, raw: msgspec.Raw) -> None:
        """One request of the slow path (see _parse): decoded on its own, so a malformed one is skipped alone."""
        try:
            r = _TRACER_DECODER.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            self.drop("unreadable_entries")
            self.next_index += 1
            return
        self.tracer_record(r)

    def tracer_record(self, r: _TracerRequest) -> None:
        index = self.next_index
        self.next_index += 1
        before = len(self.entries)
        # SAML-tracer records no per-request time: only the export's own timestamp, which is not when it happened.
        ctx = _Ctx(index, None, r.method, r.url, r.responseStatus)
        location: str | None = None
        for name, value in _tracer_headers(r.requestHeaders):
            n = name.lower()
            if n in ("authorization", "proxy-authorization"):
                self.drop("authorization_headers")
            elif n == "cookie":
                self.drop("cookies", (value or "").count(";") + 1)
        for name, value in _tracer_headers(r.responseHeaders):
            n = name.lower()
            if n == "set-cookie":
                self.drop("set_cookie_headers")
            elif n == "location" and location is None:
                location = value

        self.url(ctx, r.url, location=False)
        pairs = _tracer_form(r)
        if pairs:
            self.count_fields([n for n, _ in pairs])
            if r.saml and any(p == n and _is_filtered(v) for n, v in pairs for p in SAML_PARAMS):
                # SAML-tracer's export privacy filters ("hash" / "obfuscate") replace every posted value, but leave
                # the decoded message in "saml": use it, re-encoded as it was posted (UTF-8, base64).
                parameter = next(p for p in SAML_PARAMS if _first(pairs, p) is not None)
                value = base64.b64encode(r.saml.encode("utf-8")).decode("ascii")
                pairs = [
                    (n, value if n == parameter else v)
                    for n, v in pairs
                    if not _is_filtered(v) or n in (parameter, "RelayState")  # a masked RelayState is "hidden"
                ]
                self.form(ctx, pairs, "SAML-tracer's decoded copy (posted value filtered at export), form field")
            else:
                if any(_is_filtered(v) for n, v in pairs if n in SAML_PARAMS):
                    self.drop("filtered_values")  # hashed by the export filter and no decoded copy: unusable
                    pairs = [(n, v) for n, v in pairs if n not in SAML_PARAMS]
                self.form(ctx, pairs, "form field")
        if location:
            self.url(ctx, _join(r.url, location), location=True)
        if len(self.entries) == before:
            self.drop("non_saml_entries")
        if self.release is not None:
            self.release.request(r.url)


class _Ctx:
    """The request an entry is about. Time and host are worked out only for entries that are kept."""

    __slots__ = ("index", "method", "url", "status", "_started_raw", "_started", "_host")

    def __init__(self, index: int, started: str | None, method: str, url: str, status: object) -> None:
        self.index = index
        self.method = method
        self.url = url
        self.status = _status(status)
        self._started_raw = started
        self._started: datetime | None = None
        self._host: str | None = None

    @property
    def started(self) -> datetime | None:
        if self._started is None and self._started_raw:
            self._started = parse_instant(self._started_raw)
            self._started_raw = None
        return self._started

    @property
    def host(self) -> str:
        if self._host is None:
            self._host = _host(self.url)
        return self._host


def _is_filtered(value: str) -> bool:
    return value.startswith(_FILTERED)


def _tracer_headers(headers: list[_TracerHeader | list[Any]] | None) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for h in headers or ():
        if isinstance(h, _TracerHeader):
            out.append((h.name, _header_text(h.value)))
        elif len(h) >= 2 and isinstance(h[0], str):
            out.append((h[0], _header_text(h[1])))
    return out


def _tracer_form(r: _TracerRequest) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in r.post or ():
        if len(item) >= 1 and isinstance(item[0], str):
            value = item[1] if len(item) >= 2 and isinstance(item[1], str) else ""
            pairs.append((item[0], value))
    if not pairs and isinstance(r.postData, dict):
        # The raw webRequest formData ({name: [values]}) when "post" is missing.
        for name, values in r.postData.items():
            for v in values if isinstance(values, list) else [values]:
                if isinstance(v, str):
                    pairs.append((name, v))
    return pairs


# --- entry points --------------------------------------------------------------------------------------------

_SNIFF: Final = re.compile(rb'\A\s*\{\s*"(?:log|requests)"\s*:')
_SNIFF_LOOSE: Final = re.compile(rb'\A\s*\{.{0,4000}?"log"\s*:\s*\{', re.S)
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")


def looks_like_capture(data: bytes | memoryview | mmap.mmap) -> bool:
    """Cheap sniff: a JSON object whose first key is "log" (HAR) or "requests" (SAML-tracer)."""
    head = bytes(data[:8192])
    if head.startswith(_UTF16_BOMS):
        head = head.decode("utf-16", "ignore").encode("utf-8")
    head = head.removeprefix(_UTF8_BOM)
    if _SNIFF.match(head):
        return True
    return bool(_SNIFF_LOOSE.match(head)) and (b'"entries"' in head or b'"creator"' in head)


def read_capture(
    data: bytes | memoryview | mmap.mmap, limits: Limits, *, max_capture_bytes: int = MAX_CAPTURE_BYTES
) -> Capture:
    """Every SAML message and Entra error in a HAR or SAML-tracer export, in capture order.

    Raises AnalysisStop for input that is not a capture (not JSON, JSON of another shape), is cut off or invalid
    JSON, or is larger than `max_capture_bytes`.
    """
    with memoryview(data) as view:
        flat = view if view.format in ("B", "b", "c") and view.ndim == 1 else view.cast("B")
        try:
            # no slice of `data` outlives this call
            result = _read(flat, limits, max_capture_bytes, _PageRelease.of(data, view))
        finally:
            if flat is not view:
                flat.release()
    if isinstance(result, Finding):
        raise AnalysisStop(result)
    return result


def _read(view: memoryview, limits: Limits, cap: int, release: _PageRelease | None) -> Capture | Finding:
    size = view.nbytes
    if size > cap:
        return oversized("capture", mib(size), cap)
    head = bytes(view[:4])
    buf: memoryview | bytes = view
    if head.startswith(_UTF8_BOM):
        buf = view[3:]  # Fiddler and Windows tools write a UTF-8 BOM, which JSON parsers refuse
    elif head.startswith(_UTF16_BOMS):
        # A capture re-saved by a Windows editor or PowerShell can be UTF-16: transcode it (a copy, but rare).
        buf = bytes(view).decode("utf-16", "replace").encode("utf-8")
        release = None  # the decoder reads the copy, not the map
    first = re.search(rb"\S", bytes(buf[:4096]))
    if first is None:
        return not_a_capture("The capture file is empty", actual=f"{size} bytes of whitespace" if size else "0 bytes")
    if first.group(0) not in (b"{", b"["):
        return not_a_capture(
            "The file is not JSON, so it is neither a HAR nor a SAML-tracer export",
            actual=f"starts with {bytes(buf[first.start() : first.start() + 16])!r}",
        )
    result = _parse(buf, limits, release)
    if isinstance(result, _LoneSurrogates):
        # JSON.stringify (Chrome, Firefox) writes a lone UTF-16 surrogate in a body as "\ud83d" alone, which msgspec
        # refuses. Rare: read a repaired copy (U+FFFD in its place) rather than refuse the capture.
        repaired = repair_surrogates(buf)
        result = _parse(repaired, limits, None) if repaired is not None else result.finding
        if isinstance(result, _LoneSurrogates):
            result = result.finding
    return result


@dataclass(frozen=True)
class _LoneSurrogates:
    finding: Finding


_LONE_SURROGATE: Final = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<![dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def repair_surrogates(data: bytes | memoryview) -> bytes | None:
    """A copy of JSON text with every unpaired surrogate escape replaced by \ufffd; None when there is none."""
    repaired, n = _LONE_SURROGATE.subn(rb"\\ufffd", bytes(data))
    return repaired if n else None


def _parse(
    buf: memoryview | bytes, limits: Limits, release: _PageRelease | None
) -> Capture | Finding | _LoneSurrogates:
    # The fast path: one pass over the file, each HAR entry or SAML-tracer request handed to its reader as it is
    # decoded. Both readers give pages back through one releaser: the file is read once, front to back.
    har_reader, tracer_reader = _Reader("har", limits, release), _Reader("saml-tracer", limits, release)
    tokens = _SINK.set(har_reader), _TRACER_SINK.set(tracer_reader)
    # What refuses a HAR whole (as it always did) but only one SAML-tracer request (skipped alone on the slow path,
    # as when the fast path held requests as Raw): invalid UTF-8 inside a string the fast path materialises.
    har_refusal: Finding | None = None
    try:
        fast = _STREAM_DECODER.decode(buf)
    except msgspec.ValidationError:  # (a subclass of DecodeError)
        fast = None  # some entry (or the top level) has an unexpected shape: take the slow path
    except msgspec.DecodeError as e:
        if "surrogate" in str(e) or "hex escape" in str(e):
            return _LoneSurrogates(json_error(e))
        fast, har_refusal = None, json_error(e)  # malformed JSON fails the slow path's split too
    except UnicodeDecodeError as e:  # msgspec raises it for invalid UTF-8 inside a string it materialises
        fast, har_refusal = None, malformed("The capture file is not valid UTF-8 text", str(e))
    finally:
        _SINK.reset(tokens[0])
        _TRACER_SINK.reset(tokens[1])
    if fast is not None and fast.log is not None and fast.log.entries is not None:
        return _capture(har_reader, fast.log.creator, len(fast.log.entries))
    if fast is not None and fast.requests is not None:
        return _capture(tracer_reader, None, len(fast.requests), fast.timestamp)
    if fast is not None:
        what = "a HAR without log.entries" if fast.log is not None else "no log (HAR) or requests (SAML-tracer) key"
        return not_a_capture("The file is JSON, but not a HAR or SAML-tracer export", actual=what)
    del fast
    # The slow path: split the entries first (Raw slices of the input), then decode each on its own, so that one
    # malformed entry is counted as unreadable instead of failing the capture.
    try:
        top = _TOP_DECODER.decode(buf)
    except msgspec.ValidationError as e:
        return not_a_capture("The file is JSON, but not a HAR or SAML-tracer export", actual=str(e))
    except msgspec.DecodeError as e:  # malformed JSON after a shape error the fast path stopped at
        return json_error(e)
    except UnicodeDecodeError as e:
        return malformed("The capture file is not valid UTF-8 text", str(e))
    # (Reading again from the start: a fresh releaser, which only re-releases what the fast path released.)
    again = release.again() if release is not None else None
    if top.log is not None and top.log.entries is not None:
        if har_refusal is not None:
            return har_refusal
        reader = _Reader("har", limits, again)
        token = _SINK.set(reader)
        try:
            for raw in top.log.entries:
                reader.har_entry(raw)
        finally:
            _SINK.reset(token)
        return _capture(reader, top.log.creator, len(top.log.entries))
    if top.requests is not None:
        reader = _Reader("saml-tracer", limits, again)
        for raw in top.requests:
            reader.tracer_request(raw)
        return _capture(reader, None, len(top.requests), top.timestamp)
    return not_a_capture("The file is JSON, but not a HAR or SAML-tracer export", actual="a HAR without entries")


def _exported_at(value: int | float | str | None) -> datetime | None:
    """SAML-tracer's "timestamp": milliseconds since the epoch (older exports: an ISO string)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_instant(value)


def _capture(reader: _Reader, creator: _Creator | None, total: int, exported: object = None) -> Capture:
    if reader.fmt == "saml-tracer":
        producer: str | None = "SAML-tracer"
    else:
        producer = " ".join(p for p in (creator.name, creator.version) if p) if creator else None
    return Capture(
        format=reader.fmt,
        producer=producer or None,
        entries=tuple(reader.entries),
        total_entries=total,
        dropped={k: v for k, v in reader.dropped.items() if v or k in _COUNTED},
        exported_at=_exported_at(exported) if reader.fmt == "saml-tracer" else None,  # type: ignore[arg-type]
    )
