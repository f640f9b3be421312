"""Debian's nginx on loopback as an authenticating reverse proxy (the oauth2-proxy pattern): `auth_request` asks a
local sign-in service who the user is and passes the answer in X-Auth-Request-Email, overwriting whatever the
client sent. nginx reaches the app from 127.0.0.2 (`proxy_bind`), so the app can tell the proxy from a client on
127.0.0.1 that goes around it. Missing nginx: skip, or fail under REQUIRE_NGINX=1 (CI)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from realparts import free_port, unavailable
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

NGINX = "/usr/sbin/nginx"
PROXY_ADDRESS = "127.0.0.2"
USERS = {"token-alice": "alice@contoso.example", "token-bob": "bob@contoso.example"}


@Request.application
def sign_in_service(request: Request) -> Response:
    """Stands in for oauth2-proxy's /oauth2/auth: 202 with the user for a known session cookie, else 401."""
    user = USERS.get(request.cookies.get("_oauth2_proxy", ""))
    if user is None:
        return Response("", 401)
    return Response("", 202, headers={"X-Auth-Request-Email": user})


CONF = """
worker_processes 1;
daemon off;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /oauth2/auth {{
            internal;
            proxy_pass http://127.0.0.1:{auth_port};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}
        location / {{
            auth_request /oauth2/auth;
            auth_request_set $email $upstream_http_x_auth_request_email;
            proxy_set_header X-Auth-Request-Email $email;
            proxy_set_header Host $http_host;
            proxy_bind {proxy_address};
            proxy_pass http://127.0.0.1:{app_port};
        }}
    }}
}}
"""


@contextmanager
def nginx_in_front(app_port: int) -> Iterator[str]:
    if not os.path.exists(NGINX):
        unavailable("NGINX", "nginx is not installed (apt-get install nginx-light or nginx)")
    root = tempfile.mkdtemp(prefix="samldebug-nginx-")
    os.chmod(root, 0o755)
    auth = make_server("127.0.0.1", 0, sign_in_service, threaded=True)
    auth_thread = threading.Thread(target=auth.serve_forever, daemon=True)
    auth_thread.start()
    port = free_port()
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(
            CONF.format(
                root=root, port=port, auth_port=auth.server_port, app_port=app_port, proxy_address=PROXY_ADDRESS
            )
        )
    user = ["-g", "user root;"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([NGINX, "-p", root, "-c", conf, *user], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                unavailable("NGINX", f"nginx did not start: {err.strip()[:300]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    unavailable("NGINX", "nginx did not listen within 20 s")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        auth.shutdown()
        auth_thread.join(5)
        shutil.rmtree(root, ignore_errors=True)
