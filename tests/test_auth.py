"""Who may use it: off by default; an authenticating proxy's user header only from the proxy's addresses; built-in
OpenID Connect sign-in through a real OpenID provider (Authlib's server side) in Debian's Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from factory import b64, signed_response
from webutil import live_server, make_app

from samldebug.web.auth import AuthConfigError

PROXY = "10.0.0.5"
HEADER = "X-Auth-Request-Email"


def proxy_app(tmp_path: Path, **kw: object):  # type: ignore[no-untyped-def]
    return make_app(tmp_path, auth="proxy", auth_proxy_addresses=f"{PROXY},192.168.50.0/24", **kw)


def test_off_by_default_anyone_on_the_network_may_use_it(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    r = client.post("/api/v1/analyze", json={"input": b64(signed_response())}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 200
    assert client.get("/my/reports").status_code == 404  # no user to list reports for


def test_proxy_header_is_believed_only_from_the_proxy(tmp_path: Path) -> None:
    client = proxy_app(tmp_path).test_client()
    via_proxy = {"REMOTE_ADDR": PROXY}
    page = client.get("/", headers={HEADER: "alice@contoso.example"}, environ_base=via_proxy)
    assert page.status_code == 200 and "alice@contoso.example" in page.get_data(as_text=True)
    in_net = client.get("/", headers={HEADER: "carol@contoso.example"}, environ_base={"REMOTE_ADDR": "192.168.50.77"})
    assert in_net.status_code == 200
    forged = client.post(
        "/api/v1/analyze",
        json={"input": b64(signed_response())},
        headers={HEADER: "alice@contoso.example"},
        environ_base={"REMOTE_ADDR": "10.0.0.66"},
    )
    assert forged.status_code == 403 and "only from the sign-in proxy" in forged.get_json()["error"]["message"]
    direct = client.get("/", environ_base={"REMOTE_ADDR": "10.0.0.66"})
    assert direct.status_code == 401
    no_user = client.get("/", environ_base=via_proxy)  # the proxy did not authenticate this one
    assert no_user.status_code == 401
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "10.0.0.66"}).status_code == 200


def test_proxy_header_with_forwarded_for_still_checks_the_direct_peer(tmp_path: Path) -> None:
    client = proxy_app(tmp_path, trust_proxy_headers=True).test_client()
    forged = client.get(
        "/",
        headers={HEADER: "alice@contoso.example", "X-Forwarded-For": PROXY},
        environ_base={"REMOTE_ADDR": "10.0.0.66"},
    )
    assert forged.status_code == 403


def test_permalinks_stay_capability_links_unless_configured(tmp_path: Path) -> None:
    via_proxy = {"REMOTE_ADDR": PROXY}
    for required in (False, True):
        app = proxy_app(tmp_path / str(required), auth_permalinks=required)
        client = app.test_client()
        shared = client.post(
            "/api/v1/analyze",
            json={"input": b64(signed_response()), "share": "1"},
            headers={HEADER: "alice@contoso.example"},
            environ_base=via_proxy,
        ).get_json()
        anonymous = client.get(shared["permalink"], environ_base={"REMOTE_ADDR": "10.0.0.66"})
        assert anonymous.status_code == (401 if required else 200)
        signed_in = client.get(shared["permalink"], headers={HEADER: "bob@contoso.example"}, environ_base=via_proxy)
        assert signed_in.status_code == 200


def test_my_shared_reports_and_revoke_through_the_proxy(tmp_path: Path) -> None:
    app = proxy_app(tmp_path)
    client = app.test_client()
    alice = {"headers": {HEADER: "alice@contoso.example"}, "environ_base": {"REMOTE_ADDR": PROXY}}
    bob = {"headers": {HEADER: "bob@contoso.example"}, "environ_base": {"REMOTE_ADDR": PROXY}}
    message = b64(signed_response())
    mine = client.post("/api/v1/analyze", json={"input": message, "share": "1"}, **alice).get_json()
    theirs = client.post("/api/v1/analyze", json={"input": message, "share": "1"}, **bob).get_json()
    mine_id = mine["permalink"].split("/r/")[1].split("/")[0]
    theirs_id = theirs["permalink"].split("/r/")[1].split("/")[0]
    page = client.get("/my/reports", **alice).get_data(as_text=True)
    assert mine_id in page and theirs_id not in page and "Expires" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    refused = client.post(f"/my/reports/{theirs_id}/revoke", data={"csrf_token": token}, **alice)
    assert refused.status_code == 404
    revoked = client.post(f"/my/reports/{mine_id}/revoke", data={"csrf_token": token}, **alice)
    assert revoked.status_code == 303
    assert client.get(mine["permalink"], **alice).status_code == 404
    assert client.get(theirs["permalink"], **alice).status_code == 200
    app.extensions["samldebug.audit"].flush()
    lines = [json.loads(x) for x in (tmp_path / "instance" / "audit.jsonl").read_text().splitlines()]
    revokes = [(x["user"], x["report_id"]) for x in lines if x["action"] == "revoke"]
    assert revokes == [("alice@contoso.example", mine_id)]


def test_misconfigured_sign_in_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="SAMLDEBUG_AUTH_PROXY_ADDRESSES"):
        make_app(tmp_path, auth="proxy")
    with pytest.raises(AuthConfigError, match="SAMLDEBUG_OIDC_ISSUER"):
        make_app(tmp_path, auth="oidc")
    with pytest.raises(AuthConfigError, match="one of"):
        make_app(tmp_path, auth="maybe")


def test_group_and_role_rules() -> None:
    from samldebug.web.auth import allowed

    claims = {"groups": ["g1", "g2"], "roles": ["Debugger.Use"]}
    assert allowed(claims, [], [])[0]
    assert allowed(claims, ["g2"], [])[0]
    assert allowed(claims, [], ["Debugger.Use"])[0]
    assert not allowed(claims, ["g9"], ["Admin"])[0]
    overage = {"_claim_names": {"groups": "src1"}}
    ok, why = allowed(overage, ["g1"], [])
    assert not ok and "too many groups" in why


@pytest.mark.browser
def test_oidc_sign_in_through_a_real_provider(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from browser import PageWatch
    from oidc_provider import CLIENT_ID, CLIENT_SECRET, ENGINEERS, running_provider

    with running_provider() as provider:
        app = make_app(
            tmp_path,
            auth="oidc",
            oidc_issuer=provider.issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            oidc_allowed_groups=ENGINEERS,
        )
        with live_server(app) as base:
            provider.client.redirect_uris.append(f"{base}/auth/callback")
            context = browser.new_context()
            page = context.new_page()
            watch = PageWatch(page)
            # Not signed in: the API answers 401, the page sends the browser to the provider.
            assert page.request.post(f"{base}/api/v1/analyze", data={"input": "x"}).status == 401
            page.goto(f"{base}/findings")
            assert page.url.startswith(provider.issuer + "/authorize")
            page.get_by_role("button", name="Sign in as alice@contoso.example").click()
            page.wait_for_url(f"{base}/findings")
            assert "alice@contoso.example" in page.locator("header").inner_text()
            issued = provider.issued[-1]
            assert issued["preferred_username"] == "alice@contoso.example" and ENGINEERS in issued["groups"]
            # Signed in: the API works with the session, a share shows up under "My shared reports".
            shared = page.request.post(f"{base}/api/v1/analyze", data={"input": b64(signed_response()), "share": "1"})
            assert shared.status == 200
            report_id = shared.json()["permalink"].split("/r/")[1].split("/")[0]
            page.goto(f"{base}/my/reports")
            row = page.locator(f'tr[data-report-id="{report_id}"]')
            assert row.count() == 1
            row.get_by_role("button", name="Revoke").click()
            page.wait_for_url(re.compile(r".*/my/reports\?revoked="))
            assert page.locator(f'tr[data-report-id="{report_id}"]').count() == 0
            page.get_by_role("link", name="Sign out").click()
            assert "signed out" in page.content()
            watch.assert_clean()
            context.close()

            # Bob signs in at the provider, but is in no allowed group.
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{base}/")
            page.get_by_role("button", name="Sign in as bob@contoso.example").click()
            page.wait_for_load_state()
            assert "not in a group or app role allowed" in page.content()
            context.close()
        app.extensions["samldebug.audit"].flush()
        lines = [json.loads(x) for x in (tmp_path / "instance" / "audit.jsonl").read_text().splitlines()]
        seen = [(x["action"], x["user"]) for x in lines]
        assert ("signin", "alice@contoso.example") in seen and ("refused", "bob@contoso.example") in seen
        assert ("share", "alice@contoso.example") in seen and ("revoke", "alice@contoso.example") in seen
        text = (tmp_path / "instance" / "audit.jsonl").read_text()
        assert CLIENT_SECRET not in text and "eyJ" not in text  # no client secret, no token


def test_unauthenticated_api_gets_401_json_with_oidc(tmp_path: Path) -> None:
    app = make_app(tmp_path, auth="oidc", oidc_issuer="http://127.0.0.1:9", oidc_client_id="x", oidc_client_secret="y")
    client = app.test_client()
    r = client.post("/api/v1/analyze", json={"input": "x"})
    assert r.status_code == 401 and r.get_json()["error"]["status"] == 401
    page = client.get("/compare")
    assert page.status_code == 302 and page.headers["Location"] == "/auth/login"
    with client.session_transaction() as session:
        assert session["next"] == "/compare"  # kept in the session: a permalink key never goes into a URL
    assert client.get("/healthz").status_code == 200


@pytest.mark.nginx
def test_proxy_mode_behind_a_real_nginx_auth_request(tmp_path: Path) -> None:
    import urllib3
    from nginx_proxy import PROXY_ADDRESS, nginx_in_front

    app = make_app(tmp_path, auth="proxy", auth_proxy_addresses=PROXY_ADDRESS)
    http = urllib3.PoolManager(retries=False, timeout=30.0)
    message = b64(signed_response())
    with live_server(app) as direct, nginx_in_front(int(direct.rsplit(":", 1)[1])) as proxied:
        alice = {"Cookie": "_oauth2_proxy=token-alice"}
        page = http.request("GET", proxied + "/", headers=alice)
        assert page.status == 200 and "alice@contoso.example" in page.data.decode()
        # The proxy overwrites a forged header with the user it signed in.
        forged = http.request("GET", proxied + "/", headers={**alice, HEADER: "mallory@evil.example"})
        assert forged.status == 200 and "mallory" not in forged.data.decode()
        # Not signed in at the proxy: nginx refuses before the app sees anything.
        assert http.request("GET", proxied + "/", headers={HEADER: "alice@contoso.example"}).status == 401
        # Around the proxy, straight to the app: the header is refused, and without it sign-in is required.
        around = http.request(
            "POST",
            direct + "/api/v1/analyze",
            body=json.dumps({"input": message}),
            headers={HEADER: "alice@contoso.example", "Content-Type": "application/json"},
        )
        assert around.status == 403
        assert http.request("GET", direct + "/").status == 401
        shared = http.request(
            "POST",
            proxied + "/api/v1/analyze",
            body=json.dumps({"input": message, "share": "1"}),
            headers={**alice, "Content-Type": "application/json"},
        )
        assert shared.status == 200
        mine = http.request("GET", proxied + "/my/reports", headers=alice).data.decode()
        assert shared.json()["permalink"].split("/r/")[1].split("/")[0] in mine
    app.extensions["samldebug.audit"].flush()
    lines = [json.loads(x) for x in (tmp_path / "instance" / "audit.jsonl").read_text().splitlines()]
    assert ("refused", None, "127.0.0.1") in [(x["action"], x["user"], x["address"]) for x in lines]
    assert ("share", "alice@contoso.example") in [(x["action"], x["user"]) for x in lines]


def test_oidc_permalinks_can_require_sign_in_without_the_key_leaving_the_browser(tmp_path: Path) -> None:
    open_app = make_app(tmp_path)
    shared = open_app.test_client().post("/api/v1/analyze", json={"input": b64(signed_response()), "share": "1"})
    permalink = shared.get_json()["permalink"].replace("http://localhost", "")
    key = permalink.rsplit("/", 1)[1]
    oidc = {"auth": "oidc", "oidc_issuer": "http://127.0.0.1:9", "oidc_client_id": "x", "oidc_client_secret": "y"}
    client = make_app(tmp_path, auth_permalinks=True, **oidc).test_client()
    r = client.get(permalink)
    assert r.status_code == 302 and r.headers["Location"] == "/auth/login" and key not in r.headers["Location"]
    assert client.get(permalink + ".json").status_code == 401
    capability = make_app(tmp_path, **oidc).test_client()  # default: the link alone opens it
    assert capability.get(permalink).status_code == 200


def test_rate_limits_count_per_signed_in_user(tmp_path: Path) -> None:
    client = proxy_app(tmp_path, rate_limit_analyze="2/minute").test_client()
    message = b64(signed_response())

    def analyze(user: str) -> int:
        r = client.post(
            "/api/v1/analyze", json={"input": message}, headers={HEADER: user}, environ_base={"REMOTE_ADDR": PROXY}
        )
        return r.status_code

    assert [analyze("alice@contoso.example") for _ in range(3)] == [200, 200, 429]
    assert analyze("bob@contoso.example") == 200  # same proxy address, his own limit


def test_return_path_after_sign_in_never_carries_control_characters(tmp_path: Path) -> None:
    """The path kept for after sign-in becomes a Location header: a CR/LF (a request for /%0D%0A…) made the
    callback a 500 (werkzeug refuses the header) for whoever followed such a link and signed in."""
    from samldebug.web.auth import _safe_next

    for hostile in ("/\r\nSet-Cookie: a=b", "/x\ny", "/\x00x", "/\x7f", "/\t/evil.com"):
        assert _safe_next(hostile) == "/", hostile
    assert _safe_next("/compare?x=1") == "/compare?x=1"
    app = make_app(tmp_path, auth="oidc", oidc_issuer="http://127.0.0.1:9", oidc_client_id="x", oidc_client_secret="y")
    client = app.test_client()
    assert client.get("/%0D%0ASet-Cookie:%20a=b").status_code == 302
    with client.session_transaction() as session:
        assert session["next"] == "/"


@pytest.mark.parametrize("failure", ["id_token", "unreachable"])
def test_oidc_callback_failure_is_a_clear_page_not_a_500(tmp_path: Path, failure: str) -> None:
    """Authlib raises joserfc's errors for an ID token it refuses (expired, wrong nonce or audience, bad signature:
    not OAuthError) and requests' for a provider it cannot reach; the callback answered 500 for both."""
    import requests
    from joserfc.errors import InvalidClaimError

    app = make_app(tmp_path, auth="oidc", oidc_issuer="http://127.0.0.1:9", oidc_client_id="x", oidc_client_secret="y")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    error = InvalidClaimError("nonce") if failure == "id_token" else requests.ConnectionError("refused")

    def refuse(*_a: object, **_k: object) -> None:
        raise error

    app.extensions["samldebug.oauth"].oidc.authorize_access_token = refuse
    r = app.test_client().get("/auth/callback?code=x&state=y")
    assert r.status_code == 401 and "Sign-in failed" in r.get_data(as_text=True)


def test_a_test_sps_acs_and_slo_take_the_idps_post_without_a_session(tmp_path: Path) -> None:
    """The IdP's cross-site POST carries no SameSite=Lax session cookie: with sign-in on, the ACS and SLO of a
    configured test SP must still take it (the result page it redirects to needs sign-in as usual)."""
    from webutil import post_form

    open_client = make_app(tmp_path).test_client()
    assert post_form(open_client, "/sp", {"name": "acme"}).status_code == 303
    oidc = dict(auth="oidc", oidc_issuer="http://127.0.0.1:9", oidc_client_id="x", oidc_client_secret="y")
    for app in (make_app(tmp_path, **oidc), proxy_app(tmp_path)):
        client = app.test_client()
        peer = {"REMOTE_ADDR": PROXY}  # through the proxy, which passes the IdP's POST without a user
        assert client.post("/sp/acme/acs", data={"SAMLResponse": "x"}, environ_base=peer).status_code != 401
        assert client.post("/sp/acme/slo", data={"SAMLRequest": "x"}, environ_base=peer).status_code != 401
        other = client.post("/sp/other/acs", data={"SAMLResponse": "x"}, environ_base=peer)
        assert other.status_code in (400, 401)  # no such test SP: refused (CSRF or sign-in), never analysed
        assert client.get("/sp/acme", environ_base=peer).status_code in (401, 302)
