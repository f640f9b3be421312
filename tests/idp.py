"""A real, independent SAML IdP for the test SP's end-to-end tests: pysaml2's `saml2.server.Server` (Apache-2.0,
signatures and encryption through Debian's xmlsec1) behind a small WSGI app, run as its own process on loopback.

    python tests/idp.py --host localhost --port 0 --sp-metadata sp.xml --workdir DIR

prints "READY <base URL>" when it listens. Endpoints:
  /metadata                   the IdP's metadata (signing certificate of the current key)
  /sso/redirect, /sso/post    AuthnRequests (Redirect signatures verified by pysaml2); the user "alice" is signed
                              in without a login page; errors are the IdP's own error page (HTTP 400)
  /start?RelayState=…         IdP-initiated sign-in (an unsolicited response to the SP's default ACS)
  /slo/redirect, /slo/post    LogoutRequests from the SP (answered) and LogoutResponses to our requests
  /logout-start?name_id=…     IdP-initiated single logout
  /control?encrypt=1|0        encrypt assertions for the SP (its encryption certificate from its metadata)
  /control?require_signed=1|0 refuse unsigned AuthnRequests (as Entra does with verification certificates)
  /control?roll=1             roll the signing key (and publish it; an SP with a cached copy still has the old one)
  /last                       the last request the IdP received and how it judged it (JSON)
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from factory import make_keypair
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import (
    NAME_FORMAT_URI,
    NAMEID_FORMAT_EMAILADDRESS,
    NAMEID_FORMAT_PERSISTENT,
    NAMEID_FORMAT_TRANSIENT,
    NameID,
)
from saml2.server import Server

PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
USER = {"uid": ["alice"], "mail": ["alice@example.com"], "givenName": ["Alice"], "sn": ["Example"]}


def _key_pair(folder: Path, label: str) -> tuple[str, str]:
    kp = make_keypair(f"pysaml2 test IdP {label}", not_before=datetime.now(UTC) - timedelta(days=1), days=31)
    key_path, cert_path = folder / f"idp-{label}.key", folder / f"idp-{label}.crt"
    key_path.write_bytes(kp.key_pem)
    cert_path.write_bytes(kp.cert_pem)
    return str(key_path), str(cert_path)


class Idp:
    def __init__(self, base: str, sp_metadata: str, workdir: Path) -> None:
        self.base = base
        self.sp_metadata = sp_metadata
        self.workdir = workdir
        self.keys = [_key_pair(workdir, "old"), _key_pair(workdir, "new")]
        self.active = 0
        self.encrypt = False
        self.require_signed = False
        self.last: dict[str, Any] = {}
        self.server = self._server()
        self.metadata = str(entity_descriptor(self.server.config))

    def _server(self) -> Server:
        key_file, cert_file = self.keys[self.active]
        conf = IdPConfig()
        conf.load(
            {
                "entityid": f"{self.base}/metadata",
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "key_file": key_file,
                "cert_file": cert_file,
                "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
                "metadata": {"local": [self.sp_metadata]},
                "accepted_time_diff": 180,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT),
                                (f"{self.base}/sso/post", BINDING_HTTP_POST),
                            ],
                            "single_logout_service": [
                                (f"{self.base}/slo/redirect", BINDING_HTTP_REDIRECT),
                                (f"{self.base}/slo/post", BINDING_HTTP_POST),
                            ],
                        },
                        "name_id_format": [
                            NAMEID_FORMAT_PERSISTENT,
                            NAMEID_FORMAT_TRANSIENT,
                            NAMEID_FORMAT_EMAILADDRESS,
                        ],
                        "policy": {"default": {"lifetime": {"minutes": 15}, "name_form": NAME_FORMAT_URI}},
                        "sign_response": True,
                        "sign_assertion": True,
                        "want_authn_requests_signed": self.require_signed,
                    }
                },
            }
        )
        return Server(config=conf)

    # --- helpers
    def _sp(self) -> str:
        return next(iter(self.server.metadata.with_descriptor("spsso")))

    def _sp_cert(self, sp: str) -> str | None:
        certs = self.server.metadata.certs(sp, "spsso", "encryption")
        if not certs:
            return None
        body = certs[0][1]
        return "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----\n"

    def _respond(self, in_response_to: str | None, destination: str, sp: str, relay_state: str, policy: Any) -> Any:
        kw: dict[str, Any] = {}
        if self.encrypt:
            kw.update(
                encrypt_assertion=True, encrypt_cert_assertion=self._sp_cert(sp), encrypted_advice_attributes=False
            )
        response = self.server.create_authn_response(
            USER,
            in_response_to,
            destination,
            sp,
            name_id_policy=policy,
            userid="alice",
            authn={"class_ref": PASSWORD, "authn_auth": self.base},
            sign_response=True,
            sign_assertion=True,
            **kw,
        )
        return self.server.apply_binding(BINDING_HTTP_POST, str(response), destination, relay_state, response=True)

    # --- endpoints
    def sso(self, binding: str, params: dict[str, str]) -> tuple[str, list[tuple[str, str]], str]:
        relay = params.get("RelayState", "")
        try:
            req = self.server.parse_authn_request(
                params["SAMLRequest"],
                binding,
                relay_state=relay or None,
                sigalg=params.get("SigAlg"),
                signature=params.get("Signature"),
            )
            if req is None:
                raise ValueError("the request did not verify")
            message = req.message
            signed = "Signature" in params or message.signature is not None
            self.last = {
                "id": message.id,
                "binding": binding,
                "signed": signed,
                "force_authn": message.force_authn,
                "acs_url": message.assertion_consumer_service_url,
            }
            args = self.server.response_args(message, [BINDING_HTTP_POST])
        except Exception as e:  # noqa: BLE001 - every refusal is the IdP's error page
            self.last = {"error": f"{type(e).__name__}: {e}"}
            return _page(400, "IdP error", f"The IdP refused the request: {type(e).__name__}: {e}")
        http = self._respond(
            args["in_response_to"], args["destination"], args["sp_entity_id"], relay, args.get("name_id_policy")
        )
        return "200 OK", [("Content-Type", "text/html")], http["data"]

    def start(self, params: dict[str, str]) -> tuple[str, list[tuple[str, str]], str]:
        sp = self._sp()
        acs = self.server.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"]
        http = self._respond(None, acs, sp, params.get("RelayState", ""), None)
        return "200 OK", [("Content-Type", "text/html")], http["data"]

    def slo(self, binding: str, params: dict[str, str]) -> tuple[str, list[tuple[str, str]], str]:
        if "SAMLResponse" in params:  # the SP's answer to our IdP-initiated logout
            try:
                resp = self.server.parse_logout_request_response(params["SAMLResponse"], binding)
                status = resp.response.status.status_code.value if resp is not None else "unreadable"
            except Exception as e:  # noqa: BLE001
                status = f"refused: {type(e).__name__}: {e}"
            self.last = {"logout_response": status, "signed": "Signature" in params}
            return _page(200, "IdP: logout answered", f"LogoutResponse status: {status}")
        try:
            req = self.server.parse_logout_request(
                params["SAMLRequest"],
                binding,
                relay_state=params.get("RelayState"),
                sigalg=params.get("SigAlg"),
                signature=params.get("Signature"),
            )
            if req is None:
                raise ValueError("the LogoutRequest did not verify")
            self.last = {
                "logout_request": req.message.id,
                "name_id": req.message.name_id.text,
                "signed": "Signature" in params,
            }
            response = self.server.create_logout_response(req.message, [BINDING_HTTP_REDIRECT], sign=True)
            destination = self.server.metadata.single_logout_service(self._sp(), BINDING_HTTP_REDIRECT, "spsso")[0][
                "location"
            ]
            http = self.server.apply_binding(
                BINDING_HTTP_REDIRECT,
                str(response),
                destination,
                params.get("RelayState", ""),
                response=True,
                sign=True,
            )
        except Exception as e:  # noqa: BLE001
            self.last = {"error": f"{type(e).__name__}: {e}"}
            return _page(400, "IdP error", f"The IdP refused the logout request: {type(e).__name__}: {e}")
        return "303 See Other", http["headers"], ""

    def logout_start(self, params: dict[str, str]) -> tuple[str, list[tuple[str, str]], str]:
        sp = self._sp()
        destination = self.server.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")[0]["location"]
        name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text=params.get("name_id", "alice"))
        req_id, req = self.server.create_logout_request(destination, sp, name_id=name_id, sign=False)
        http = self.server.apply_binding(BINDING_HTTP_REDIRECT, str(req), destination, "", sign=True)
        return "303 See Other", http["headers"], ""

    def control(self, params: dict[str, str]) -> tuple[str, list[tuple[str, str]], str]:
        if "encrypt" in params:
            self.encrypt = params["encrypt"] == "1"
        if "require_signed" in params:  # like Entra's "Require verification certificates"
            self.require_signed = params["require_signed"] == "1"
            self.server = self._server()
        if params.get("roll") == "1":  # the new key signs at once; the metadata names it from now on
            self.active = 1
            self.server = self._server()
            self.metadata = str(entity_descriptor(self.server.config))
        return (
            "200 OK",
            [("Content-Type", "application/json")],
            json.dumps({"encrypt": self.encrypt, "key": self.active}),
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        if environ["REQUEST_METHOD"] == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(size).decode()
            query.update({k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()})
        routes = {
            "/sso/redirect": lambda: self.sso(BINDING_HTTP_REDIRECT, query),
            "/sso/post": lambda: self.sso(BINDING_HTTP_POST, query),
            "/slo/redirect": lambda: self.slo(BINDING_HTTP_REDIRECT, query),
            "/slo/post": lambda: self.slo(BINDING_HTTP_POST, query),
            "/start": lambda: self.start(query),
            "/logout-start": lambda: self.logout_start(query),
            "/control": lambda: self.control(query),
            "/metadata": lambda: ("200 OK", [("Content-Type", "application/samlmetadata+xml")], self.metadata),
            "/favicon.ico": lambda: ("204 No Content", [], ""),
            "/last": lambda: ("200 OK", [("Content-Type", "application/json")], json.dumps(self.last)),
        }
        handler = routes.get(path)
        status, headers, text = handler() if handler else _page(404, "Not found", path)
        start_response(status, headers)
        return [text.encode()]


def _page(status: int, title: str, text: str) -> tuple[str, list[tuple[str, str]], str]:
    body = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><p id='idp-message'>{html.escape(text)}</p>"
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    return f"{status} {reason}", [("Content-Type", "text/html; charset=utf-8")], body


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sp-metadata", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    server: WSGIServer = make_server("127.0.0.1", args.port, lambda e, s: app(e, s), handler_class=_Quiet)
    base = f"http://{args.host}:{server.server_port}"
    app = Idp(base, args.sp_metadata, Path(args.workdir))
    print(f"READY {base}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
