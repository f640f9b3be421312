"""Command line: the same report as the web page, exit code by the worst severity.

Exit codes: 0 no error finding, 1 at least one error finding, 2 usage error (bad flags, unreadable file).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO

import click

from . import decrypt, fetch, har, profiles, trust
from .catalog import finding
from .certs import Anchor, CertError, load_certs
from .config import AppConfig, Limits, Settings
from .decode import mib, oversized
from .model import AnalysisStop, Finding, Report, Severity
from .pipeline import analyze, stopped
from .report import dumps, to_text


class ExitCode(IntEnum):
    OK = 0
    ERRORS = 1
    USAGE = 2


def parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    from .instants import parse_instant

    parsed = parse_instant(value)
    if parsed is None:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)")
    return parsed


def read_bounded(stream: BinaryIO, cap: int) -> bytes:
    """At most cap+1 bytes: enough to know the input is too large, never more."""
    return stream.read(cap + 1)


def _read_input(source: str, cap: int, capture_cap: int = Limits().max_capture_bytes) -> tuple[bytes, int | None]:
    """(data, known size). A path that does not exist but looks like pasted data is taken literally.
    A capture (HAR, SAML-tracer export) may be larger than a single message: it gets its own cap."""
    if source == "-":
        head = read_bounded(sys.stdin.buffer, cap)
        if len(head) > cap and har.looks_like_capture(head):
            return head + read_bounded(sys.stdin.buffer, capture_cap - len(head)), None
        return head, None
    path = Path(source)
    try:
        is_file = len(source) < 4096 and path.is_file()
    except OSError:  # e.g. "file name too long": it is pasted text
        is_file = False
    if is_file:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
            limit = capture_cap if har.looks_like_capture(head) else cap
            return head + read_bounded(fh, max(limit - len(head), 0)), size
    if len(source) > 64 or source.lstrip().startswith("<"):
        return source.encode(), len(source)
    raise click.BadParameter(f"no such file: {source}", param_hint="INPUT")


def _read(src: str, flag: str) -> bytes:
    try:
        return Path(src).read_bytes()
    except OSError as e:
        raise click.BadParameter(f"cannot read {src}: {e.strerror}", param_hint=flag) from None


def fetch_policy(allow_hosts: tuple[str, ...], env: dict[str, str]) -> fetch.FetchPolicy:
    config = AppConfig.load(env)
    hosts = tuple(h.strip() for h in config.metadata_allowed_hosts.split(",") if h.strip()) + allow_hosts
    return fetch.FetchPolicy(
        allowed_hosts=hosts,
        allow_http=config.metadata_allow_http,
        allow_private=config.metadata_allow_private,
        total_timeout=config.metadata_timeout,
        cache_ttl=config.metadata_cache_ttl,
    )


def build_settings(
    metadata: tuple[str, ...],
    cert: tuple[str, ...],
    sp_entity_id: str | None,
    acs_url: str | None,
    idp_entity_id: str | None,
    skew: int,
    limits: Limits,
    now: datetime,
    *,
    tenant: str | None = None,
    app_id: str | None = None,
    cloud: str = "global",
    allow_hosts: tuple[str, ...] = (),
    profile: profiles.Profile | None = None,
    sp_cert: tuple[str, ...] = (),
) -> tuple[Settings, tuple[Finding, ...]]:
    sources: list[fetch.MetadataSource] = []
    files: list[tuple[bytes, str, str | None]] = []
    for src in metadata:
        if src.startswith(("http://", "https://")):
            sources.append(fetch.MetadataSource(src, f"metadata {src}"))
        else:
            files.append((_read(src, "--metadata"), f"metadata {Path(src).name}", None))
    notes: list[Finding] = []
    if tenant:
        try:
            url = fetch.entra_metadata_url(tenant, app_id, cloud)
        except AnalysisStop as stop:
            raise click.BadParameter(stop.finding.title, param_hint="--tenant/--app-id") from None
        sources.append(fetch.MetadataSource(url, f"Entra metadata ({tenant}{', app ' + app_id if app_id else ''})"))
    if profile is not None and profile.metadata and not metadata and not tenant:
        if profile.metadata.startswith(("http://", "https://")):
            sources.append(fetch.MetadataSource(profile.metadata, f"profile {profile.name} metadata"))
        else:
            files.append((_read(profile.metadata, "--profile"), f"profile {profile.name} metadata", None))
    if sources:
        fetched, fetch_notes = fetch.fetch_all(
            sources, fetch_policy(allow_hosts, dict(os.environ)), _CACHE, datetime.now(UTC)
        )
        files += fetched
        notes += fetch_notes
    found = trust.collect(files, [(_read(src, "--cert"), f"--cert {Path(src).name}") for src in cert], limits, now)
    bad = [n for n in found.notes if n.code == "bad_certificate"]
    if bad:
        raise click.BadParameter(f"{bad[0].where}: {bad[0].actual}", param_hint="--cert")
    sp_anchors: list[Anchor] = []
    for src in sp_cert:
        try:
            sp_anchors += [Anchor(c, f"--sp-cert {Path(src).name}") for c in load_certs(_read(src, "--sp-cert"))]
        except CertError as e:
            raise click.BadParameter(f"{src}: {e}", param_hint="--sp-cert") from None
    settings = Settings(
        sp_entity_id=sp_entity_id,
        acs_url=acs_url,
        idp_entity_id=idp_entity_id,
        skew=skew,
        limits=limits,
        sp_anchors=tuple(sp_anchors),
    )
    settings = found.apply(settings)
    if profile is not None:
        settings = profile.apply(settings)
    return settings, tuple(notes + found.notes)


_CACHE = fetch.MemoryCache()


def resolve_profile(
    name: str | None, preset: str | None, params: tuple[str, ...], sp_metadata: str | None, limits: Limits
) -> tuple[profiles.Profile | None, list[Finding]]:
    try:
        if preset:
            found = profiles.presets().get(preset)
            if found is None:
                choices = ", ".join(profiles.presets())
                raise click.BadParameter(f"unknown preset {preset!r} (have: {choices})", param_hint="--preset")
            values = dict(p.split("=", 1) for p in params if "=" in p)
            return found.profile(**values), []
        if sp_metadata:
            return profiles.from_sp_metadata(_read(sp_metadata, "--sp-metadata"), limits)
        if name:
            path = os.environ.get("SAMLDEBUG_PROFILES_FILE") or str(Path("instance") / "profiles.toml")
            known = profiles.load_profiles(path)
            if name not in known:
                raise click.BadParameter(
                    f"no profile {name!r} in {path} (have: {', '.join(known) or 'none'})", param_hint="--profile"
                )
            return known[name], []
    except profiles.ProfileError as e:
        raise click.BadParameter(str(e)) from None
    except AnalysisStop as stop:
        raise click.BadParameter(stop.finding.title, param_hint="--sp-metadata") from None
    return None, []


def exit_code(report: Report) -> ExitCode:
    return ExitCode.ERRORS if report.worst is Severity.ERROR else ExitCode.OK


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="samldebug")
def main() -> None:
    """samldebug: decode, verify and explain SAML messages."""


@main.command("analyze")
@click.argument("input_", metavar="INPUT|-")
@click.option("--metadata", multiple=True, metavar="PATH", help="IdP federation metadata (trust anchors, issuer).")
@click.option("--cert", multiple=True, metavar="PATH", help="IdP signing certificate (PEM, DER or base64).")
@click.option("--sp-entity-id", help="The SP's entity ID (Entra 'Identifier'): expected Audience.")
@click.option("--acs-url", help="The SP's ACS URL (Entra 'Reply URL'): expected Recipient/Destination.")
@click.option("--idp-entity-id", help="Expected Issuer (default: the metadata's entityID).")
@click.option("--tenant", help="Entra tenant ID or verified domain: fetch the app's metadata (with --app-id).")
@click.option("--app-id", help="Entra application (client) ID for the App Federation Metadata.")
@click.option("--cloud", type=click.Choice(["global", "usgov", "china"]), default="global", show_default=True)
@click.option("--allow-host", multiple=True, metavar="HOST", help="Also allow fetching metadata from this host.")
@click.option("--sp-cert", multiple=True, metavar="PATH", help="The SP's signing certificate (request signatures).")
@click.option("--profile", "profile_name", help="An SP profile from SAMLDEBUG_PROFILES_FILE (instance/profiles.toml).")
@click.option("--preset", help="An SP preset, e.g. balenacloud (see `samldebug presets`).")
@click.option("--param", "preset_params", multiple=True, metavar="NAME=VALUE", help="A preset parameter.")
@click.option("--sp-metadata", metavar="PATH", help="The SP's metadata: its entity ID, ACS URLs, certificates.")
@click.option("--entry", type=click.IntRange(0), help="For a capture (HAR): analyse only this entry (its index).")
@click.option("--expected-name-id", help="The NameID value the SP expects for this user (transformation hints).")
@click.option(
    "--sp-key",
    multiple=True,
    metavar="PATH",
    help="The SP's private key, to decrypt encrypted assertions "
    "(used for this analysis only; never stored or printed).",
)
@click.option("--sp-key-password", envvar="SAMLDEBUG_SP_KEY_PASSWORD", help="Password of an encrypted --sp-key.")
@click.option("--now", "now_text", metavar="ISO8601", help="Evaluate time checks at this instant (default: now).")
@click.option("--skew", type=click.IntRange(0, 86400), default=180, show_default=True, help="Clock skew, seconds.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--max-xml-bytes", type=click.IntRange(1024, 64 * 1024 * 1024), default=Limits().max_xml_bytes, show_default=True
)
def analyze_cmd(
    input_: str,
    metadata: tuple[str, ...],
    cert: tuple[str, ...],
    sp_entity_id: str | None,
    acs_url: str | None,
    idp_entity_id: str | None,
    tenant: str | None,
    app_id: str | None,
    cloud: str,
    allow_host: tuple[str, ...],
    sp_cert: tuple[str, ...],
    profile_name: str | None,
    preset: str | None,
    preset_params: tuple[str, ...],
    sp_metadata: str | None,
    entry: int | None,
    expected_name_id: str | None,
    sp_key: tuple[str, ...],
    sp_key_password: str | None,
    now_text: str | None,
    skew: int,
    fmt: str,
    max_xml_bytes: int,
) -> None:
    """Analyse a SAML message: a file, '-' for stdin, or the pasted text itself."""
    now = parse_now(now_text)
    limits = Limits(max_xml_bytes=max_xml_bytes, max_input_bytes=max(Limits().max_input_bytes, max_xml_bytes * 4))
    data, size = _read_input(input_, limits.max_input_bytes)
    profile, profile_notes = resolve_profile(profile_name, preset, preset_params, sp_metadata, limits)
    settings, notes = build_settings(
        metadata,
        cert,
        sp_entity_id,
        acs_url,
        idp_entity_id,
        skew,
        limits,
        now,
        tenant=tenant,
        app_id=app_id,
        cloud=cloud,
        allow_hosts=allow_host,
        profile=profile,
        sp_cert=sp_cert,
    )
    if expected_name_id:
        settings = replace(settings, expected_name_id=expected_name_id)
    if sp_key:
        keys = []
        for path in sp_key:
            try:
                keys += decrypt.load_private_keys(_read(path, "--sp-key"), (sp_key_password or "").encode() or None)
            except decrypt.DecryptError as e:
                raise click.BadParameter(f"{path}: {e}", param_hint="--sp-key") from None
        settings = replace(settings, decryption_keys=tuple(keys))
    notes = tuple(profile_notes) + notes
    is_capture = har.looks_like_capture(data[: 64 * 1024])
    cap = limits.max_capture_bytes if is_capture else limits.max_input_bytes
    if len(data) > cap:
        shown = mib(size) if size is not None else f"more than {mib(cap)}"
        report = stopped(oversized("capture" if is_capture else "input", shown, cap), size or len(data), settings, now)
    else:
        report = analyze(data, settings, now=now, notes=notes, entry=entry)
    if fmt == "json":
        click.echo(dumps(report))
    else:
        click.echo(to_text(report, colour=sys.stdout.isatty() and "NO_COLOR" not in os.environ), nl=False)
    sys.exit(int(exit_code(report)))


__all__ = ["ExitCode", "finding", "main"]


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn workers.")
@click.option("--debug", is_flag=True, help="Flask's development server with the debugger (never in production).")
def serve_cmd(host: str, port: int, workers: int, debug: bool) -> None:
    """Serve the web page: gunicorn by default, Flask's development server only with --debug."""
    if debug:
        from .web import create_app

        create_app().run(host=host, port=port, debug=True)
        return
    from gunicorn.app.wsgiapp import run  # the same entry point as the `gunicorn` command

    sys.argv = [
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "samldebug.web:create_app()",
    ]
    run()


@main.command("purge")
@click.option("--database-url", envvar="SAMLDEBUG_DATABASE_URL", help="Default: the instance folder's SQLite file.")
def purge_cmd(database_url: str | None) -> None:
    """Delete expired shared reports (run it from cron or a systemd timer)."""
    from .store import Store, StoreError

    if not database_url:
        from .web import create_app

        database_url = create_app().config["SAMLDEBUG"].database_url
    store = Store(database_url)
    try:
        store.migrate()
        removed = store.purge(datetime.now(UTC))
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"purged {removed} expired report(s)")


@main.command("presets")
def presets_cmd() -> None:
    """List the SP presets and their parameters."""
    for key, p in profiles.presets().items():
        params = " ".join(f"--param {name}=…" for name in p.parameters)
        click.echo(f"{key}: {p.name}. {p.description}\n    samldebug analyze INPUT --preset {key} {params}")
        for name, text in p.parameter_help.items():
            click.echo(f"    {name}: {text}")


@main.command("diff")
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.option("--metadata", multiple=True, metavar="PATH|URL", help="IdP federation metadata (trust anchors).")
@click.option("--cert", multiple=True, metavar="PATH", help="IdP signing certificate.")
@click.option("--sp-entity-id", help="The SP's entity ID.")
@click.option("--acs-url", help="The SP's ACS URL.")
@click.option("--now", "now_text", metavar="ISO8601", help="Evaluate both at this instant (default: now).")
@click.option("--skew", type=click.IntRange(0, 86400), default=180, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff_cmd(
    first: str,
    second: str,
    metadata: tuple[str, ...],
    cert: tuple[str, ...],
    sp_entity_id: str | None,
    acs_url: str | None,
    now_text: str | None,
    skew: int,
    fmt: str,
) -> None:
    """Compare two sign-ins (e.g. a working and a failing user): the differences that matter."""
    from dataclasses import asdict

    from .diff import compare
    from .report import to_json

    now = parse_now(now_text)
    limits = Limits()
    settings, notes = build_settings(metadata, cert, sp_entity_id, acs_url, None, skew, limits, now)
    reports = []
    for source in (first, second):
        data, _size = _read_input(source, limits.max_input_bytes)
        reports.append(analyze(data, settings, now=now, notes=notes))
    differences = compare(reports[0], reports[1])
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "schema": "samldebug.diff/1",
                    "differences": [asdict(d) for d in differences],
                    "a": to_json(reports[0]),
                    "b": to_json(reports[1]),
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        if not differences:
            click.echo("No differences that matter.")
        for d in differences:
            click.echo(f"• {d.field}: A {d.a!r} → B {d.b!r}" if (d.a or d.b) else f"• {d.field}")
            if d.hint:
                click.echo(f"    {d.hint}")


@main.command("sanitize")
@click.argument("input_", metavar="CAPTURE|-")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here (default: stdout).")
def sanitize_cmd(input_: str, output: str | None) -> None:
    """Remove cookies, tokens, passwords and signature values from a HAR / SAML-tracer export, keeping the SAML
    messages diagnosable (and unreplayable)."""
    from .sanitize import sanitize_capture

    limits = Limits()
    data, _size = _read_input(input_, limits.max_capture_bytes, limits.max_capture_bytes)
    try:
        result = sanitize_capture(data, limits, max_capture_bytes=limits.max_capture_bytes)
    except AnalysisStop as stop:
        raise click.ClickException(f"{stop.finding.title}: {stop.finding.actual or ''}".rstrip(": ")) from None
    if output:
        Path(output).write_bytes(result.data)
    else:
        sys.stdout.buffer.write(result.data)
        sys.stdout.buffer.flush()
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(result.redacted.items()) if v) or "nothing"
    click.echo(f"redacted {summary}", err=True)
