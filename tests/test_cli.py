"""The CLI: same report, exit code by severity, bounded reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from factory import ACS_URL, SP_ENTITY_ID, b64, build_response, idp_key, metadata, signed_response, to_bytes

from samldebug.cli import main

NOW = "2026-03-01T12:01:00Z"


def invoke(*args: str, input: bytes | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), input=input)


def test_valid_response_exits_0_with_metadata(tmp_path: Path) -> None:
    (tmp_path / "md.xml").write_bytes(metadata())
    (tmp_path / "resp.b64").write_text(b64(signed_response()))
    r = invoke(
        "analyze",
        str(tmp_path / "resp.b64"),
        "--metadata",
        str(tmp_path / "md.xml"),
        "--sp-entity-id",
        SP_ENTITY_ID,
        "--acs-url",
        ACS_URL,
        "--now",
        NOW,
    )
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Healthy sign-in")


def test_json_format_and_cert_flag(tmp_path: Path) -> None:
    (tmp_path / "idp.pem").write_bytes(idp_key().cert_pem)
    r = invoke(
        "analyze", "-", "--cert", str(tmp_path / "idp.pem"), "--now", NOW, "--format", "json", input=signed_response()
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["schema"] == "samldebug.report/2"
    assert doc["messages"][0]["signature"]["status"] == "valid"
    assert doc["messages"][0]["signature"]["key"]["source"] == "--cert idp.pem"


def test_error_findings_exit_1() -> None:
    r = invoke("analyze", "-", "--now", NOW, "--sp-entity-id", "urn:wrong", input=to_bytes(build_response()))
    assert r.exit_code == 1
    lines = r.output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(("ERROR", "WARNING", "INFO")))
    assert lines[first].startswith("ERROR")  # worst first


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke("analyze", "no-such-file.xml").exit_code == 2
    assert invoke("analyze", "-", "--now", "yesterday", input=b"x").exit_code == 2
    assert invoke("analyze", "-", "--cert", str(tmp_path / "missing.pem"), input=b"x").exit_code == 2
    (tmp_path / "bad.pem").write_text("not a cert")
    assert invoke("analyze", "-", "--cert", str(tmp_path / "bad.pem"), input=b"x").exit_code == 2
    assert invoke("bogus").exit_code == 2


def test_literal_pasted_text_is_accepted() -> None:
    r = invoke("analyze", b64(signed_response()), "--now", NOW)
    assert r.exit_code == 0, r.output
    assert "unverified" in r.output  # no anchor given


def test_20_mib_paste_is_refused_and_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        chunk = b"QUFB" * 262144  # 1 MiB of base64
        for _ in range(20):
            fh.write(chunk)
    script = (
        "import resource, sys, runpy; sys.argv=['samldebug','analyze',sys.argv[1],'--format','json'];"
        "\ntry: runpy.run_module('samldebug', run_name='__main__')\nexcept SystemExit as e: code=e.code"
        "\nhwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]"
        "\nprint('RSS_KB', hwm, file=sys.stderr); sys.exit(code)"
    )
    # How fast the refusal is belongs to benchmarks/; here: refused, and never the whole input in memory.
    proc = subprocess.run([sys.executable, "-c", script, str(big)], capture_output=True, timeout=60)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert [f["code"] for f in doc["findings"]] == ["oversized_input"]
    assert doc["findings"][0]["actual"] == "20.0 MiB"
    rss_kb = int(proc.stderr.decode().split("RSS_KB")[1].split()[0])
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the forking pytest process.
    assert rss_kb < 120_000, rss_kb  # never the whole 20 MiB (plus copies) in memory


def test_python_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "samldebug", "--help"], capture_output=True, timeout=30)
    assert proc.returncode == 0 and b"analyze" in proc.stdout


def test_analyze_honours_the_instance_configuration(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`samldebug analyze` reads instance/samldebug.toml (found through SAMLDEBUG_INSTANCE_PATH) like the web
    page: the operator's default skew, XML limit and profiles file apply; flags still win."""
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "samldebug.toml").write_text("default_skew = 77\nmax_xml_bytes = 4096\n")
    (instance / "profiles.toml").write_text(f'[profiles.acme]\nsp_entity_id = "{SP_ENTITY_ID}"\n')
    monkeypatch.setenv("SAMLDEBUG_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("SAMLDEBUG_PROFILES_FILE", raising=False)
    (tmp_path / "resp.b64").write_text(b64(signed_response()))
    r = invoke("analyze", str(tmp_path / "resp.b64"), "--format", "json", "--now", NOW, "--profile", "acme")
    doc = json.loads(r.output)
    assert doc["skew"] == 77
    assert any(f["code"] == "oversized_input" for f in doc["findings"])  # the signed response is > 4096 bytes
    r = invoke("analyze", str(tmp_path / "resp.b64"), "--format", "json", "--now", NOW, "--skew", "5")
    assert json.loads(r.output)["skew"] == 5


def test_cli_and_web_share_one_fetch_policy() -> None:
    """The policy keeps max_bytes and ca_file whichever shell builds it (the CLI's copy used to drop both)."""
    from samldebug.config import AppConfig

    config = AppConfig.load({"SAMLDEBUG_MAX_XML_BYTES": "2048", "SAMLDEBUG_METADATA_ALLOW_HTTP": "yes"})
    policy = config.fetch_policy(("extra.test",), ca_file="/tmp/ca.pem")
    assert policy.max_bytes == 2048 and policy.ca_file == "/tmp/ca.pem" and policy.allow_http
    assert policy.allowed_hosts[-1] == "extra.test" and "login.microsoftonline.com" in policy.allowed_hosts


def test_signing_requirement_flag(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner
    from factory import T0, metadata, signed_response

    from samldebug.cli import main

    msg, md = tmp_path / "r.xml", tmp_path / "md.xml"
    msg.write_bytes(signed_response("assertion"))
    md.write_bytes(metadata())
    args = ["analyze", str(msg), "--metadata", str(md), "--now", T0.strftime("%Y-%m-%dT%H:%M:%SZ"), "--format", "json"]
    unmet = CliRunner().invoke(main, [*args, "--signing", "both"])
    assert "signing_requirement_unmet" in unmet.output
    met = CliRunner().invoke(main, [*args, "--signing", "assertion"])
    assert "signing_requirement_unmet" not in met.output


def test_json_output_never_carries_a_raw_terminal_escape() -> None:
    """--format json is written straight to stdout (no ANSI stripping pass): an escape sequence pasted into the
    input must reach the output only JSON-escaped, never as a raw ESC a terminal would act on."""
    pasted = b"\x1b[2J\x1b]0;owned\x07AADSTS50011: The redirect URI 'https://sp.example/acs' \x1b[31mdoes not match"
    r = invoke("analyze", "-", "--now", NOW, "--format", "json", input=pasted)
    assert r.exit_code in (0, 1), r.output
    assert "\x1b" not in r.output and "\x07" not in r.output
    doc = json.loads(r.output)
    assert doc["schema"].startswith("samldebug.report/")
    assert "50011" in r.output  # the content survived


def test_help_names_and_parameter_list_follow_the_declarations() -> None:
    """The commands keep their parameter list between parses (click rebuilt it for each use): -h and --help still
    work everywhere, and a parameter added later, or other help names, are seen."""
    import click

    from samldebug.cli import Command

    for args in (["-h"], ["--help"], ["analyze", "-h"], ["diff", "--help"]):
        r = invoke(*args)
        assert r.exit_code == 0 and r.output.startswith("Usage: ") and "-h, --help" in r.output, args
    cmd = Command("x", params=[click.Option(["--a"])])
    ctx = click.Context(cmd, help_option_names=["--help"])
    assert [p.name for p in cmd.get_params(ctx)] == ["a", "_click_default_help"]
    cmd.params.append(click.Option(["--b"]))
    assert [p.name for p in cmd.get_params(ctx)] == ["a", "b", "_click_default_help"]
    assert cmd.get_params(click.Context(cmd, help_option_names=[]))[-1].name == "b"


def test_input_file_forms(tmp_path: Path) -> None:
    """A file given with a trailing slash is still that file; a directory is not pasted text; a capture larger
    than the single-message cap is read whole (it has its own cap); a message over the cap is refused."""
    import harfactory as hf

    msg = tmp_path / "resp.xml"
    msg.write_bytes(signed_response())
    r = invoke("analyze", f"{msg}/", "--now", NOW, "--format", "json")
    assert json.loads(r.output)["messages"][0]["kind"] == "response"
    r = invoke("analyze", str(tmp_path), "--now", NOW)
    assert r.exit_code == 2 and "no such file" in r.output
    har = tmp_path / "flow.har"
    har.write_bytes(hf.dumps(hf.har(hf.sp_initiated())))
    cap = {"SAMLDEBUG_MAX_INPUT_BYTES": "16384"}  # more than one message of the capture, less than the file
    assert har.stat().st_size > 16384
    r = CliRunner().invoke(main, ["analyze", str(har), "--now", NOW, "--format", "json"], env=cap)
    doc = json.loads(r.output)
    assert doc["flows"] and not any(f["code"] == "oversized_input" for f in doc["findings"])
    cap = {"SAMLDEBUG_MAX_INPUT_BYTES": "2048"}
    r = CliRunner().invoke(main, ["analyze", str(msg), "--now", NOW, "--format", "json"], env=cap)
    assert [f["code"] for f in json.loads(r.output)["findings"]] == ["oversized_input"]
