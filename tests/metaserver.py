"""A real HTTP / HTTPS server on loopback (port 0) for the metadata-fetch tests, with a throw-away CA.

Routes map a request path (with its query) to a `Reply`: status, headers, body, and how slowly to send it.
Every request is recorded (path, Host header, TLS server name), so tests can assert what was — and was not —
asked for.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/samlmetadata+xml"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    header_drip: float = 0.0  # pause between header lines
    drip: float = 0.0  # pause between body pieces of `drip_size` bytes
    drip_size: int = 1
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass(frozen=True)
class Seen:
    path: str
    host: str | None
    server_name: str | None  # TLS SNI, when TLS


@dataclass(frozen=True)
class LocalCA:
    dir: Path
    ca_file: str
    cert_file: str
    key_file: str


def make_ca(directory: Path, names: tuple[str, ...] = ("metadata.test",)) -> LocalCA:
    """A CA and a server certificate for `names`, written as PEM files into `directory`."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "samldebug test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    cert_file = directory / "server.pem"
    key_file = directory / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return LocalCA(directory, str(ca_file), str(cert_file), str(key_file))


class MetaServer:
    """`with MetaServer(routes) as srv:` serves on 127.0.0.1 (or ::1) on a free port until the block ends."""

    def __init__(self, routes: dict[str, Reply] | None = None, tls: LocalCA | None = None, ipv6: bool = False):
        self.routes: dict[str, Reply] = dict(routes or {})
        self.seen: list[Seen] = []
        self.completed: list[str] = []  # paths whose whole reply was sent (a client that gave up never gets here)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.address = "::1" if ipv6 else "127.0.0.1"
        context: ssl.SSLContext | None = None
        server_names: dict[int, str | None] = {}
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert_file, tls.key_file)

            def sni(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
                server_names[id(sock)] = name

            context.sni_callback = sni
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                return None

            def do_GET(self) -> None:  # noqa: N802 - the base class's name
                name = server_names.get(id(self.connection)) if context is not None else None
                with outer._lock:
                    outer.seen.append(Seen(self.path, self.headers.get("Host"), name))
                reply = outer.routes.get(self.path) or Reply(404, b"not found", "text/plain")
                try:
                    self._send(reply)
                except OSError:  # the client gave up (timeouts, size cap): expected
                    return
                with outer._lock:
                    outer.completed.append(self.path)

            def _sleep(self, seconds: float) -> None:
                """A pause that ends early when the server stops (an event, not a sleep loop)."""
                outer.stopping.wait(seconds)

            def _send(self, reply: Reply) -> None:
                self._sleep(reply.delay)
                lines = [f"HTTP/1.0 {reply.status} {self.responses.get(reply.status, ('X',))[0]}\r\n"]
                headers = dict(reply.headers)
                if reply.content_type is not None:
                    headers["Content-Type"] = reply.content_type
                if reply.content_length:
                    headers["Content-Length"] = str(len(reply.body))
                lines += [f"{k}: {v}\r\n" for k, v in headers.items()] + ["\r\n"]
                for line in lines:
                    self.wfile.write(line.encode("latin-1"))
                    if reply.header_drip:
                        self.wfile.flush()
                        self._sleep(reply.header_drip)
                self.wfile.flush()
                if not reply.drip:
                    self.wfile.write(reply.body)
                    return
                for i in range(0, len(reply.body), reply.drip_size):
                    if outer.stopping.is_set():
                        return
                    self.wfile.write(reply.body[i : i + reply.drip_size])
                    self.wfile.flush()
                    self._sleep(reply.drip)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            address_family = socket.AF_INET6 if ipv6 else socket.AF_INET

            def finish_request(self, request: Any, client_address: Any) -> None:
                # The TLS handshake runs in the request's own thread, so a stalled client blocks nobody.
                if context is None:
                    super().finish_request(request, client_address)
                    return
                try:
                    wrapped = context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                with wrapped:  # (the server closes only the plain socket it accepted)
                    super().finish_request(wrapped, client_address)

            def handle_error(self, request: Any, client_address: Any) -> None:
                return None  # clients that hang up on purpose are the point of several tests

        self.server = Server((self.address, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/", host: str | None = None) -> str:
        h = host or (f"[{self.address}]" if ":" in self.address else self.address)
        return f"{self.scheme}://{h}:{self.port}{path}"

    def finished(self, path: str) -> bool:
        with self._lock:
            return path in self.completed

    def paths(self) -> list[str]:
        with self._lock:
            return [s.path for s in self.seen]

    def __enter__(self) -> MetaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
