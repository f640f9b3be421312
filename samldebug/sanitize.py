"""`samldebug sanitize capture.har > clean.har`: a capture safe to share, still good for SAML diagnosis.

Removed (value replaced by "[redacted]", structure kept): cookies (HAR cookie lists, Cookie headers, the value
part of Set-Cookie — name and attributes such as SameSite stay), Authorization and other credential headers
(the scheme stays: "Bearer [redacted]"), passwords and one-time codes in form posts, OAuth codes and tokens
(form fields, URL query and fragment parameters, JSON bodies, hidden inputs, Entra's `$Config` flow token and
canaries, anything shaped like a JWT).

Kept but made unreplayable: every SAML message is decoded (base64, or DEFLATE + base64 for the Redirect binding),
the text of each ds:SignatureValue is blanked (DigestValue, KeyInfo certificate, every value and every byte the
digests cover stay as they were), and it is re-encoded the same way and put back: in POST bodies (text and
params), query strings, Location headers, Referer headers, the auto-submit HTML form in response bodies (also
when the body is stored base64), and SAML-tracer's decoded copy. The Redirect binding's detached `Signature`
query parameter is dropped. A value that looks like SAML but cannot be decoded is replaced whole.

Last, a safety net: any redacted value still found anywhere in the output as a token of its own (a cookie echoed
in a page, a token in an initiator URL) is replaced there too.

The whole capture is loaded (this is an offline command), decoded and re-encoded by msgspec, which keeps a
100 MiB HAR to seconds.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, unquote_plus

import msgspec
from lxml import etree

from . import linear, xmlsafe
from .config import Limits
from .decode import b64decode_lenient, inflate, looks_like_xml, mib, oversized, strip_bom
from .har import (
    ATTRIBUTE,
    INPUT_TAG,
    JS_SECRET,
    JWT,
    MAX_CAPTURE_BYTES,
    PERCENT_ESCAPE,
    REDACTED,
    SAML_PARAMS,
    UPLOAD_HEADERS,
    URL_TOKEN,
    decode_param,
    is_password_field,
    is_token_field,
    json_error,
    malformed,
    not_a_capture,
    repair_surrogates,
)
from .har import (
    reads_body as har_reads_body,
)
from .model import AnalysisStop

DS: Final = "http://www.w3.org/2000/09/xmldsig#"
_MIN_SECRET: Final = 8  # shorter values are not searched for everywhere (they would match by chance)

_SECRET_HEADER_WORD: Final = linear.compile(  # x-ms-*credential, x-functions-key, ocp-apim-subscription-key, …
    r"token|secret|api-?key|apikey|session|csrf|xsrf|credential|password|passwd|signature|-key$|^key$|auth|zumo",
    ignore_case=True,
)
_AUTH_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})
_JSON_HINT: Final = re.compile(r"token|secret|key|pass|pwd|assertion|canary|eyJ|\?|otc|otp|pin|SAMLRe|auth", re.I)
_BEARER: Final = linear.compile(r"\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/=-]{8,})", ignore_case=True)
_TEXT_MIME: Final = re.compile(r"html|json|xml|text/|x-unknown|x-www-form-urlencoded|^$", re.I)
_FORM_FIELD_HEAD: Final = linear.compile(r'name="([^"]+)"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n')


_SAFE_HEADERS: Final = frozenset(
    {"content-length", "content-type", "accept", "accept-encoding", "accept-language", "cache-control", "host"}
)


def is_secret_header(name: str) -> bool:
    """A header whose value is (or may be) a credential: known names, and unknown names that look like keys or
    tokens (`Ocp-Apim-Subscription-Key`, `X-Functions-Key`, `X-ZUMO-AUTH`, `X-Api-Key`, …). CORS headers only
    name other headers."""
    n = name.strip().lower()
    if n in _SAFE_HEADERS or n.startswith("access-control-"):
        return False
    return _SECRET_HEADER_WORD.search(n) is not None


@dataclass(frozen=True)
class Sanitized:
    data: bytes  # the sanitized capture (JSON, indented by two spaces)
    # What was redacted, by kind: cookies, set_cookie_headers, authorization_headers, secret_headers,
    # password_fields, tokens, signature_values, redirect_signatures, saml_replaced, echoed_secrets.
    redacted: dict[str, int] = field(default_factory=dict)


def sanitize_har(data: bytes) -> bytes:
    """A HAR or SAML-tracer export with credentials removed and SAML messages unreplayable (see the module)."""
    return sanitize_capture(data).data


def sanitize_capture(
    data: bytes, limits: Limits | None = None, *, max_capture_bytes: int = MAX_CAPTURE_BYTES
) -> Sanitized:
    """Raises AnalysisStop (same findings as read_capture) for input that is not a capture."""
    if len(data) > max_capture_bytes:
        raise AnalysisStop(oversized("capture", mib(len(data)), max_capture_bytes))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = data.decode("utf-16", "replace").encode("utf-8")
    data = data.removeprefix(b"\xef\xbb\xbf")
    stripped = data.lstrip()
    if not stripped:
        raise AnalysisStop(not_a_capture("The capture file is empty"))
    if stripped[:1] not in (b"{", b"["):
        raise AnalysisStop(
            not_a_capture(
                "The file is not JSON, so it is neither a HAR nor a SAML-tracer export",
                actual=f"starts with {stripped[:16]!r}",
            )
        )
    try:
        doc = _decode(data)
    except msgspec.DecodeError as e:
        raise AnalysisStop(json_error(e)) from None
    except UnicodeDecodeError as e:
        raise AnalysisStop(malformed("The capture file is not valid UTF-8 text", str(e))) from None
    s = _Sanitizer(limits or Limits())
    log = doc.get("log") if isinstance(doc, dict) else None
    if isinstance(log, dict) and isinstance(log.get("entries"), list):
        for key, value in log.items():
            if key == "entries":
                for entry in value:
                    s.har_entry(entry)
            else:
                log[key] = s.generic(value)
    elif isinstance(doc, dict) and isinstance(doc.get("requests"), list):
        for request in doc["requests"]:
            s.tracer_request(request)
    else:
        raise AnalysisStop(not_a_capture("The file is JSON, but not a HAR or SAML-tracer export"))
    out = s.safety_net(doc)
    return Sanitized(msgspec.json.format(out, indent=2), {k: v for k, v in s.counts.items() if v})


def _decode(data: bytes) -> Any:
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as e:
        # A lone UTF-16 surrogate escaped by JSON.stringify: decode a repaired copy (see har.repair_surrogates).
        repaired = repair_surrogates(data) if "surrogate" in str(e) or "hex escape" in str(e) else None
        if repaired is None:
            raise
        return msgspec.json.decode(repaired)


class _Sanitizer:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.counts: dict[str, int] = {}
        self.secrets: set[str] = set()
        self._saml: dict[str, str] = {}  # transport value → neutralised value (one message appears many times)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def secret(self, value: str, what: str) -> str:
        """Record a credential (for the safety net) and return what replaces it."""
        value = value.strip()
        if value and value != REDACTED and REDACTED not in value:
            self.count(what)
            if len(value) >= _MIN_SECRET:
                self.secrets.add(value)
                self.secrets.add(quote(value, safe=""))
        return REDACTED

    # --- SAML ------------------------------------------------------------------------------------------------

    def saml(self, value: str) -> str:
        """A SAMLRequest / SAMLResponse value (base64, maybe deflated) with its SignatureValues blanked."""
        if value == REDACTED:
            return value
        cached = self._saml.get(value)
        if cached is None:
            cached = self._saml[value] = self._neutralise(value)
        return cached

    def _neutralise(self, value: str) -> str:
        try:
            raw = b64decode_lenient(value.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            self.count("saml_replaced")
            return REDACTED
        deflated = not looks_like_xml(raw)
        try:
            xml = inflate(raw, self.limits.max_xml_bytes) if deflated else raw
        except (ValueError, AnalysisStop):
            self.count("saml_replaced")
            return REDACTED
        blanked, changed = self.blank(strip_bom(xml))
        if blanked is None:
            self.count("saml_replaced")
            return REDACTED
        if not changed:
            return value
        if deflated:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            blanked = c.compress(blanked) + c.flush()
        return base64.b64encode(blanked).decode("ascii")

    def blank(self, xml: bytes) -> tuple[bytes | None, bool]:
        """(the XML with every ds:SignatureValue emptied, whether one was); (None, False) when it is not XML the
        safe parser accepts (then the caller replaces the whole value)."""
        try:
            root = xmlsafe.parse(xml, self.limits)
        except AnalysisStop:
            return None, False
        n = 0
        for sv in root.iter(f"{{{DS}}}SignatureValue"):
            if (sv.text or "").strip() or len(sv):
                for child in list(sv):
                    sv.remove(child)
                sv.text = ""
                n += 1
        # The ciphertext of an EncryptedAssertion still decrypts with the SP's key to a signed assertion: a
        # replayable copy. Its algorithms and key identity stay; the ciphertext goes.
        ciphers = 0
        for cv in root.iter("{http://www.w3.org/2001/04/xmlenc#}CipherValue"):
            if (cv.text or "").strip():
                cv.text = ""
                ciphers += 1
        if ciphers:
            self.count("ciphertexts", ciphers)
        if not n and not ciphers:
            return xml, False
        self.count("signature_values", n)
        # lxml writes back what it parsed (prefixes, namespace declarations, attribute order, whitespace), so the
        # canonical form of every signed element, and with it each DigestValue, stays valid.
        tree = root.getroottree()
        declared = xml.lstrip().startswith(b"<?xml")
        encoding = (tree.docinfo.encoding or "UTF-8") if declared else "UTF-8"
        out = etree.tostring(tree, xml_declaration=declared, encoding=encoding)
        assert isinstance(out, bytes)  # with an encoding, lxml returns bytes
        return out, True

    def saml_xml_text(self, text: str) -> str:
        """SAML-tracer's decoded copy ("saml": XML text)."""
        blanked, changed = self.blank(text.encode("utf-8"))
        if blanked is None:
            self.count("saml_replaced")
            return REDACTED
        return blanked.decode("utf-8", "replace") if changed else text

    # --- parameters, URLs, forms -------------------------------------------------------------------------

    def pair(self, name: str, value: str) -> str:
        """The new value of one decoded parameter / form field."""
        if name in SAML_PARAMS:
            return self.saml(value)
        if is_password_field(name):
            return self.secret(value, "password_fields")
        if is_token_field(name):
            return self.secret(value, "tokens")
        return value

    def query(self, query: str) -> str:
        """A query string, form body or fragment: changed pairs re-encoded, the others kept byte for byte."""
        parts = query.split("&")
        names = [unquote_plus(p.partition("=")[0]) for p in parts]
        redirect = any(n in SAML_PARAMS for n in names)
        out = []
        for part, name in zip(parts, names, strict=True):
            raw_name, eq, raw_value = part.partition("=")
            if eq and name == "Signature" and redirect:
                self.count("redirect_signatures")  # the detached Redirect-binding signature: dropped
                continue
            if eq:
                value = decode_param(name, raw_value)
                new = self.pair(name, value)
                if new != value:
                    part = f"{raw_name}={quote(new, safe='')}"
            out.append(part)
        return "&".join(out)

    def url(self, url: str) -> str:
        scheme, sep, rest = url.partition("://")
        if sep and "@" in rest.split("/", 1)[0]:  # userinfo (user:password@host) in the authority
            userinfo, _, host = rest.partition("@")
            url = f"{scheme}://{self.secret(userinfo, 'tokens')}@{host}"
        if "?" not in url and "#" not in url:
            return url
        base, hashmark, fragment = url.partition("#")
        path, qmark, query = base.partition("?")
        if qmark:
            query = self.query(query)
        if hashmark and "=" in fragment:
            fragment = self.query(fragment)
        return path + qmark + query + hashmark + fragment

    def pairs(self, items: Any) -> Any:
        """HAR queryString / postData.params ({name, value}, encoded by Chrome, decoded by Firefox and Safari) or
        SAML-tracer get / post ([name, value], decoded)."""
        if not isinstance(items, list):
            return items
        names = [_pair_name(i) for i in items]
        redirect = any(n in SAML_PARAMS for n in names)
        out = []
        for item, name in zip(items, names, strict=True):
            value = _pair_value(item)
            if name is None or value is None:
                out.append(item)
                continue
            if name == "Signature" and redirect:
                self.count("redirect_signatures")
                continue
            encoded = bool(PERCENT_ESCAPE.search(value))
            decoded = decode_param(name, value, encoded=encoded)
            new = self.pair(name, decoded)
            if new != decoded:
                _set_pair_value(item, quote(new, safe="") if encoded else new)
            out.append(item)
        return out

    def form_body(self, text: str, mime: str) -> str:
        if "json" in mime or text.lstrip()[:1] in ("{", "["):
            return self.json_text(text)
        if "multipart/" in mime:
            return self._multipart(text)
        m = UPLOAD_HEADERS.match(text)  # Firefox: upload stream headers ahead of the body
        head, body = (text[: m.end()], text[m.end() :]) if m else ("", text)
        if "=" not in body:
            return head + self.text(body)
        return head + self.query(body.rstrip("\r\n")) + body[len(body.rstrip("\r\n")) :]

    def _multipart(self, text: str) -> str:
        """Each part's value (up to the next boundary line) through `pair`, in one left-to-right pass."""
        out: list[str] = []
        pos = 0
        boundary = 0  # the next "\n--" after the current head; -1 once there is none (never searched again)
        for m in _FORM_FIELD_HEAD.finditer(text):
            if m.start() < pos or boundary < 0:
                continue
            boundary = text.find("\n--", m.end())
            if boundary < 0:
                break
            end = boundary - 1 if text[boundary - 1 : boundary] == "\r" else boundary
            value = text[m.end() : end]
            new = self.pair(m.group(1), value)
            out.append(text[pos : m.end()] + new)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    # --- headers and cookies -------------------------------------------------------------------------------

    def header(self, name: str, value: str) -> str:
        n = name.lower()
        if n == "cookie":
            return "; ".join(
                f"{p.partition('=')[0].strip()}={self.secret(p.partition('=')[2], 'cookies')}" if "=" in p else p
                for p in value.split(";")
            )
        if n == "set-cookie":
            lines = []
            for line in value.split("\n"):  # Chrome: several Set-Cookie lines in one value
                first, sep, attrs = line.partition(";")
                cname, eq, cvalue = first.partition("=")
                self.count("set_cookie_headers")
                lines.append(f"{cname}={self.secret(cvalue, 'cookies')}{sep}{attrs}" if eq else line)
            return "\n".join(lines)
        scheme, space, credential = value.strip().partition(" ")
        if n in _AUTH_HEADERS or scheme.lower() in ("bearer", "basic", "negotiate", "ntlm", "pop"):
            self.count("authorization_headers")
            if space and scheme.isalpha():
                return f"{scheme} {self.secret(credential, 'tokens')}"
            return self.secret(value, "tokens")
        if is_secret_header(n):
            self.count("secret_headers")
            return self.secret(value, "tokens")
        if value.startswith(("http://", "https://", "/")) and ("?" in value or "#" in value):
            return self.url(value)  # Location, Referer, Chrome's :path
        return value

    def headers(self, items: Any) -> None:
        for h in items if isinstance(items, list) else ():
            if isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str):
                h["value"] = self.header(h["name"], h["value"])
            elif isinstance(h, list) and len(h) >= 2 and isinstance(h[0], str) and isinstance(h[1], str):
                h[1] = self.header(h[0], h[1])  # SAML-tracer before 1.0: [name, value]

    def cookies(self, items: Any) -> None:
        for c in items if isinstance(items, list) else ():
            if isinstance(c, dict) and isinstance(c.get("value"), str):
                c["value"] = self.secret(c["value"], "cookies")

    # --- bodies --------------------------------------------------------------------------------------------

    def content(self, content: dict[str, Any]) -> None:
        text, mime = content.get("text"), str(content.get("mimeType") or "").lower()
        # The reader's own rule (har.reads_body): every body the analyser may read SAML from is sanitized too.
        if not isinstance(text, str) or not text or (not har_reads_body(mime) and "javascript" not in mime):
            return
        if content.get("encoding") == "base64":
            # Chrome (and Safari) store some text bodies base64: decode, sanitize, re-encode the same way.
            if "javascript" in mime:
                return
            try:
                body = base64.b64decode(text, validate=False).decode("utf-8", "surrogateescape")
            except (binascii.Error, ValueError):
                return
            new = self.body(body, mime)
            if new != body:
                content["text"] = base64.b64encode(new.encode("utf-8", "surrogateescape")).decode("ascii")
            return
        content["text"] = self.body(text, mime)

    def body(self, text: str, mime: str) -> str:
        if "javascript" in mime:
            return self._jwts(text)
        if "json" in mime or ((not mime or "x-unknown" in mime) and text.lstrip()[:1] in ("{", "[")):
            return self.json_text(text)
        if "x-www-form-urlencoded" in mime:
            return self.form_body(text, mime)
        return self.html(text)

    def html(self, page: str) -> str:
        if "<input" in page.lower():  # any case: <Input, <INPUT (HTML tag names are case-insensitive)
            page = INPUT_TAG.sub(self._input, page)
        if '"' in page:
            page = JS_SECRET.sub(self._js_secret, page)
        return self.text(page)

    def _input(self, m: linear.Match[str]) -> str:
        tag = m.group(0)
        attrs = {a.group(1).lower(): a for a in ATTRIBUTE.finditer(tag, 6)}  # after "<input" (spans count from 0)
        name_m, value_m = attrs.get("name"), attrs.get("value")
        if name_m is None or value_m is None:
            return tag
        group = next((g for g in (2, 3, 4) if value_m.group(g) is not None), None)
        if group is None:
            return tag
        name = html.unescape(_attr_value(name_m))
        value = html.unescape(value_m.group(group))
        kind = _attr_value(attrs["type"]).lower() if "type" in attrs else ""
        if name in SAML_PARAMS:
            new = self.saml(value)
        elif is_password_field(name) or kind == "password":
            new = self.secret(value, "password_fields")
        elif is_token_field(name):
            new = self.secret(value, "tokens")
        else:
            return tag
        if new == value:
            return tag
        start, end = value_m.span(group)
        return tag[:start] + html.escape(new, quote=True) + tag[end:]

    def _js_secret(self, m: linear.Match[str]) -> str:
        try:
            value = str(json.loads(f'"{m.group(3)}"'))
        except ValueError:
            value = m.group(3)
        return f'"{m.group(1)}"{m.group(2)}"{self.secret(value, "tokens")}"'

    def text(self, text: str) -> str:
        """Tokens in free text: URL parameters, Bearer / Basic credentials and JWTs."""
        if "=" in text:
            text = URL_TOKEN.sub(self._url_token, text)
        if "earer" in text or "asic" in text:
            text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + self.secret(m.group(3), "tokens"), text)
        return self._jwts(text)

    def websocket(self, messages: Any) -> Any:
        """Chrome's _webSocketMessages: each message's data is a JSON document, a form-style text or free text."""
        for message in messages if isinstance(messages, list) else ():
            if isinstance(message, dict) and isinstance(message.get("data"), str):
                data = message["data"]
                if data.lstrip()[:1] in ("{", "["):
                    message["data"] = self.json_text(data)
                elif "=" in data and " " not in data.strip():
                    message["data"] = self.text(self.query(data))
                else:
                    message["data"] = self.text(data)
        return messages

    def _url_token(self, m: linear.Match[str]) -> str:
        return f"{m.group(1)}{m.group(2)}={quote(self.secret(unquote_plus(m.group(3)), 'tokens'))}"

    def _jwts(self, text: str) -> str:
        return JWT.sub(lambda m: self.secret(m.group(0), "tokens"), text) if "eyJ" in text else text

    def json_text(self, text: str) -> str:
        if _JSON_HINT.search(text) is None:
            return text  # no key or value that could hold a credential: not worth parsing
        try:
            doc = json.loads(text)
        except ValueError:
            return self.text(text)
        changed = self._json(doc)
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) if changed else text

    def _json(self, node: Any) -> bool:
        changed = False
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str):
                    # "code" is left alone in JSON: there it is an error code, not an OAuth code.
                    k = str(key)
                    if k in SAML_PARAMS:  # a SAMLResponse in a JSON body is as replayable as in a form
                        node[key] = self.saml(value)
                    elif is_password_field(k) or (is_token_field(k) and k.lower() != "code"):
                        node[key] = self.secret(value, "tokens")
                    elif "SAMLRe" in value and "=" in value:  # a form body kept as a JSON string
                        node[key] = self.text(self.query(value))
                    elif "eyJ" in value or "?" in value:
                        node[key] = self.text(value)
                    changed = changed or node[key] != value
                elif self._json(value):
                    changed = True
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, str) and "eyJ" in value:
                    node[i] = self._jwts(value)
                    changed = changed or node[i] != value
                elif self._json(value):
                    changed = True
        return changed

    # --- whole records -------------------------------------------------------------------------------------

    def har_entry(self, entry: Any) -> None:
        if not isinstance(entry, dict):
            return
        req, resp = entry.get("request"), entry.get("response")
        if isinstance(req, dict):
            if isinstance(req.get("url"), str):
                req["url"] = self.url(req["url"])
            self.headers(req.get("headers"))
            self.cookies(req.get("cookies"))
            req["queryString"] = self.pairs(req.get("queryString"))
            post = req.get("postData")
            if isinstance(post, dict):
                mime = str(post.get("mimeType") or "").lower()
                if isinstance(post.get("text"), str):
                    post["text"] = self.form_body(post["text"], mime)
                if "params" in post:
                    post["params"] = self.pairs(post["params"])
        if isinstance(resp, dict):
            self.headers(resp.get("headers"))
            self.cookies(resp.get("cookies"))
            if isinstance(resp.get("redirectURL"), str):
                resp["redirectURL"] = self.url(resp["redirectURL"])
            if isinstance(resp.get("content"), dict):
                self.content(resp["content"])
        for key, value in entry.items():
            if key == "_webSocketMessages":
                entry[key] = self.websocket(value)
            elif key not in ("request", "response"):
                entry[key] = self.generic(value)  # Chrome's _initiator (URLs), …

    def tracer_request(self, r: Any) -> None:
        if not isinstance(r, dict):
            return
        if isinstance(r.get("url"), str):
            r["url"] = self.url(r["url"])
        self.headers(r.get("requestHeaders"))
        self.headers(r.get("responseHeaders"))
        for key in ("get", "post"):
            if key in r:
                r[key] = self.pairs(r[key])
        post_data = r.get("postData")
        if isinstance(post_data, dict):
            for name, values in post_data.items():
                if isinstance(values, list):
                    post_data[name] = [self.pair(name, v) if isinstance(v, str) else v for v in values]
        if isinstance(r.get("saml"), str):
            r["saml"] = self.saml_xml_text(r["saml"])

    def generic(self, node: Any) -> Any:
        """Anything else: URLs get their SAML and token parameters sanitized, JWTs are removed."""
        if isinstance(node, str):
            if node.startswith(("http://", "https://")):
                node = self.url(node)
            return self._jwts(node)
        if isinstance(node, dict):
            for key, value in node.items():
                node[key] = self.generic(value)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                node[i] = self.generic(value)
        return node

    # --- the safety net ------------------------------------------------------------------------------------

    def safety_net(self, doc: Any) -> bytes:
        """Encode; a redacted value still found anywhere as a token of its own (a cookie echoed in a page, a token
        in an initiator URL) is replaced there too.

        Strings are cut into tokens at delimiters (quotes, <>, &, =, ;, whitespace…) in C (translate + split)
        and the tokens intersected with the set of redacted values: linear in the capture size, whatever the
        number of secrets (a search per secret would be quadratic: thousands of cookies × 100 MiB)."""
        wanted = {t for value in self.secrets for t in _tokens(value) if len(t) >= _MIN_SECRET}
        if not wanted:
            return msgspec.json.encode(doc)

        def scrub(node: Any) -> Any:
            if isinstance(node, str):
                if len(node) >= _MIN_SECRET:
                    hits = wanted.intersection(_tokens(node))
                    for token in sorted(hits, key=len, reverse=True):
                        self.count("echoed_secrets")
                        node = node.replace(token, REDACTED)
                return node
            if isinstance(node, dict):
                return {scrub(k): scrub(v) for k, v in node.items()}
            if isinstance(node, list):
                return [scrub(v) for v in node]
            return node

        return msgspec.json.encode(scrub(doc))


_DELIMITERS: Final = str.maketrans(dict.fromkeys("\t\r\n\"'<>&=;,:?#(){}[]\\|!*^`@$", " "))


def _tokens(text: str) -> list[str]:
    return text.translate(_DELIMITERS).split()


def _attr_value(m: linear.Match[str]) -> str:
    return next((g for g in m.groups()[1:] if g is not None), "")


def _pair_name(item: Any) -> str | None:
    if isinstance(item, dict):
        name = item.get("name")
    elif isinstance(item, list) and item:
        name = item[0]
    else:
        return None
    return name if isinstance(name, str) else None


def _pair_value(item: Any) -> str | None:
    if isinstance(item, dict):
        value = item.get("value")
    elif isinstance(item, list) and len(item) >= 2:
        value = item[1]
    else:
        return None
    return value if isinstance(value, str) else None


def _set_pair_value(item: Any, value: str) -> None:
    if isinstance(item, dict):
        item["value"] = value
    elif isinstance(item, list):
        item[1] = value
