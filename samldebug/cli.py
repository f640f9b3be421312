"""Command line: the same report as the web page, exit code by the worst severity.

Exit codes: 0 no error finding, 1 at least one error finding, 2 usage error (bad flags, unreadable file).
"""

from __future__ import annotations

import functools
import json
import mmap
import os
import stat
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO

import click

from . import decrypt, fetch, graph, har, profiles, signinlog
from .certs import Anchor, CertError, load_certs
from .config import AppConfig, Limits, MiB, Settings
from .decode import mib, oversized
from .diff import compare
from .inputs import SIGNING_CHOICES, Inputs, profile_metadata, resolve
from .instants import parse_instant
from .model import AnalysisStop, Finding, Report, Severity
from .pipeline import analyze, stopped
from .report import dumps, to_json, to_text
from .sanitize import sanitize_capture
from .ticket import ticket_text


class ExitCode(IntEnum):
    OK = 0
    ERRORS = 1
    USAGE = 2


def parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    parsed = parse_instant(value)
    if parsed is None:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)")
    return parsed


def read_bounded(stream: BinaryIO, cap: int) -> bytes:
    """At most cap+1 bytes: enough to know the input is too large, never more."""
    return stream.read(cap + 1)


_HEAD = 64 * 1024  # what is read first to tell a capture or sign-in log (larger caps) from one message


def _read_input(
    source: str, cap: int, capture_cap: int = Limits().max_capture_bytes
) -> tuple[bytes | mmap.mmap, int | None]:
    """(data, known size). A path that does not exist but looks like pasted data is taken literally.
    A capture (HAR, SAML-tracer export) may be larger than a single message: it gets its own cap, and a capture
    file is mapped (mmap), not read: the reader walks it in place, so memory does not grow with the file."""
    if source == "-":
        head = read_bounded(sys.stdin.buffer, cap)
        if len(head) > cap and _large_kind(head):
            return head + read_bounded(sys.stdin.buffer, capture_cap - len(head)), None
        return head, None
    path = Path(source)  # as a path ("name.xml/" is the file name.xml)
    try:  # one stat says both whether it is a file and its size
        st = os.stat(path) if len(source) < 4096 else None
    except (OSError, ValueError):  # e.g. "file name too long", a NUL byte: it is pasted text
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        size = st.st_size
        with open(path, "rb") as fh:
            head = fh.read(_HEAD)
            is_capture = har.looks_like_capture(head)
            if is_capture and 0 < size <= capture_cap:
                return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), size  # the map outlives the file object
            if len(head) < _HEAD:  # the whole file (a short read of a regular file is its end)
                return head, size
            limit = capture_cap if is_capture or signinlog.sniff(head) is not None else cap
            return head + read_bounded(fh, max(limit - len(head), 0)), size
    if len(source) > 64 or source.lstrip().startswith("<"):
        return source.encode(), len(source)
    raise click.BadParameter(f"no such file: {source}", param_hint="INPUT")


def _lookup_signins(config: AppConfig, report: Report) -> bytes | None:
    """The Graph sign-in events for the report's first correlation ID (else request ID), or None (said on stderr)."""
    try:
        settings = graph.from_config(config)
    except (ValueError, OSError) as e:
        raise click.UsageError(f"sign-in log lookup: {e}") from None
    if settings is None:
        raise click.UsageError("--lookup-signins needs SAMLDEBUG_GRAPH_TENANT, _CLIENT_ID and _CERT_FILE")
    ids = [("correlation", e.correlation_id) for e in report.entra_errors if e.correlation_id]
    ids += [("request", e.trace_id) for e in report.entra_errors if e.trace_id]
    if not ids:
        click.echo("No correlation or request ID in the input: nothing to look up.", err=True)
        return None
    kind, value = ids[0]
    try:
        return graph.lookup(settings, kind, value or "")
    except AnalysisStop as stop:
        click.echo(f"Sign-in log lookup: {stop.finding.title} ({stop.finding.actual or ''})", err=True)
        return None


def _large_kind(head: bytes) -> bool:
    """A capture or an Entra sign-in log download: allowed to be much larger than one message."""
    return har.looks_like_capture(head) or signinlog.sniff(head) is not None


def _read(src: str, flag: str) -> bytes:
    try:
        return Path(src).read_bytes()
    except OSError as e:
        raise click.BadParameter(f"cannot read {src}: {e.strerror}", param_hint=flag) from None


def load_config(max_xml_bytes: int | None = None) -> tuple[AppConfig, Path]:
    """The operator's configuration, read as the web page reads it (instance/samldebug.toml,
    SAMLDEBUG_INSTANCE_PATH, SAMLDEBUG_* variables); --max-xml-bytes overrides its limits."""
    try:
        config, instance = AppConfig.from_environment()
    except (ValueError, OSError) as e:
        raise click.UsageError(f"configuration: {e}") from None
    if max_xml_bytes is not None:
        config = replace(
            config, max_xml_bytes=max_xml_bytes, max_input_bytes=max(config.max_input_bytes, max_xml_bytes * 4)
        )
    return config, instance


def _operator_keys(config: AppConfig) -> tuple[Any, ...]:
    if not config.sp_private_key_file:
        return ()
    try:
        return tuple(decrypt.load_private_keys(_read(config.sp_private_key_file, "SAMLDEBUG_SP_PRIVATE_KEY_FILE")))
    except decrypt.DecryptError as e:
        raise click.UsageError(f"SAMLDEBUG_SP_PRIVATE_KEY_FILE: {e}") from None


def _metadata(
    metadata: tuple[str, ...], tenant: str | None, app_id: str | None, cloud: str, profile: profiles.Profile | None
) -> tuple[list[fetch.MetadataSource], list[tuple[bytes, str, str | None]]]:
    """--metadata (files and URLs), --tenant/--app-id, else the profile's metadata: sources to fetch, files read."""
    sources: list[fetch.MetadataSource] = []
    files: list[tuple[bytes, str, str | None]] = []
    for src in metadata:
        if src.startswith(("http://", "https://")):
            sources.append(fetch.MetadataSource(src, f"metadata {src}"))
        else:
            files.append((_read(src, "--metadata"), f"metadata {Path(src).name}", None))
    if tenant:
        try:
            sources.append(fetch.entra_source(tenant, app_id, cloud))
        except AnalysisStop as stop:
            raise click.BadParameter(stop.finding.title, param_hint="--tenant/--app-id") from None
    location = profile_metadata(profile, given=bool(metadata or tenant))
    if profile is not None and location is not None:
        label = f"profile {profile.name} metadata"
        if location.startswith(("http://", "https://")):
            sources.append(fetch.MetadataSource(location, label))
        else:
            files.append((_read(location, "--profile"), label, None))
    return sources, files


def build_settings(
    config: AppConfig,
    now: datetime,
    *,
    metadata: tuple[str, ...] = (),
    cert: tuple[str, ...] = (),
    sp_entity_id: str | None = None,
    acs_url: str | None = None,
    idp_entity_id: str | None = None,
    skew: int | None = None,
    tenant: str | None = None,
    app_id: str | None = None,
    cloud: str = "global",
    allow_hosts: tuple[str, ...] = (),
    profile: profiles.Profile | None = None,
    sp_cert: tuple[str, ...] = (),
    expected_name_id: str | None = None,
    decryption_keys: tuple[Any, ...] = (),
    signing: str | None = None,
) -> tuple[Settings, tuple[Finding, ...]]:
    """The flags mapped onto inputs.Inputs; inputs.resolve does the rest, as for the web page."""
    sources, files = _metadata(metadata, tenant, app_id, cloud, profile)
    notes: list[Finding] = []
    if sources:
        fetched, fetch_notes = fetch.fetch_all(sources, config.fetch_policy(allow_hosts), _CACHE, datetime.now(UTC))
        files += fetched
        notes += fetch_notes
    sp_anchors: list[Anchor] = []
    for src in sp_cert:
        try:
            sp_anchors += [Anchor(c, f"--sp-cert {Path(src).name}") for c in load_certs(_read(src, "--sp-cert"))]
        except CertError as e:
            raise click.BadParameter(f"{src}: {e}", param_hint="--sp-cert") from None
    inputs = Inputs(
        sp_entity_id=sp_entity_id,
        acs_url=acs_url,
        idp_entity_id=idp_entity_id,
        skew=skew,
        metadata=tuple(files),
        certs=tuple((_read(src, "--cert"), f"--cert {Path(src).name}") for src in cert),
        sp_anchors=tuple(sp_anchors),
        expected_name_id=expected_name_id,
        profile=profile,
        decryption_keys=decryption_keys,
        app_id=app_id,
        signing=signing,
    )
    settings, trust_notes = resolve(inputs, config, now, operator_keys=_operator_keys(config))
    bad = [n for n in trust_notes if n.code == "bad_certificate"]
    if bad:
        raise click.BadParameter(f"{bad[0].where}: {bad[0].actual}", param_hint="--cert")
    return settings, tuple(notes) + trust_notes


_CACHE = fetch.MemoryCache()


def resolve_profile(
    name: str | None,
    preset: str | None,
    params: tuple[str, ...],
    sp_metadata: str | None,
    limits: Limits,
    profiles_file: str,
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
            path = profiles_file
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


def _write_json(text: str) -> None:
    """JSON straight to stdout: click.echo scans the whole text for ANSI escape sequences to strip when stdout is
    not a terminal (a regex over every byte of a report: more than the encoding cost). JSON text cannot carry a
    raw escape character (msgspec writes control characters as \\u001b), so there is nothing to strip."""
    out = sys.stdout
    out.write(text)
    out.write("\n")
    out.flush()


def exit_code(report: Report) -> ExitCode:
    return ExitCode.ERRORS if report.worst is Severity.ERROR else ExitCode.OK


class _ParamsOnce(click.Command):
    """Works the parameter list (the declared ones plus the help option) out once per command: click rebuilds it,
    with its duplicate-name checks over every option, each time it makes the parser, processes the values and
    formats help."""

    _params_key: tuple[object, ...] | None = None
    _params_list: list[click.Parameter] = []

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        key = (tuple(self.params), tuple(ctx.help_option_names), self.add_help_option)
        if key != self._params_key:
            self._params_list, self._params_key = super().get_params(ctx), key
        return list(self._params_list)


class Command(_ParamsOnce):
    """Every `samldebug` subcommand."""


class Group(_ParamsOnce, click.Group):
    """`samldebug` itself; its subcommands are `Command`s."""

    command_class = Command


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "--signin-log",
    metavar="PATH",
    help="An Entra sign-in log (Graph JSON, or the admin center's JSON / CSV download) beside INPUT: the events of "
    "this sign-in are matched by correlation ID, request ID or user and time, and explain it.",
)
@click.option(
    "--lookup-signins",
    is_flag=True,
    help="Look the report's correlation / request IDs up in the Entra sign-in logs through Microsoft Graph "
    "(needs SAMLDEBUG_GRAPH_TENANT, _CLIENT_ID and _CERT_FILE) and analyse them together.",
)
@click.option(
    "--signin-filter",
    metavar="ID|UPN",
    help="Keep only the sign-in log events of this correlation ID, request ID or user.",
)
@click.option("--expected-name-id", help="The NameID value the SP expects for this user (transformation hints).")
@click.option(
    "--signing",
    type=click.Choice(SIGNING_CHOICES),
    help="What the SP requires signed (its 'want assertions / responses signed' setting); unmet, it is an error.",
)
@click.option(
    "--sp-key",
    multiple=True,
    metavar="PATH",
    help="The SP's private key, to decrypt encrypted assertions "
    "(used for this analysis only; never stored or printed).",
)
@click.option("--sp-key-password", envvar="SAMLDEBUG_SP_KEY_PASSWORD", help="Password of an encrypted --sp-key.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Evaluate a pasted message's time checks at this instant (default: its own IssueInstant, when the SP got "
    "it). A capture is always judged at each message's receipt time; --now only says what 'expired now' means.",
)
@click.option(
    "--skew", type=click.IntRange(0, 86400), help="Clock skew, seconds (default: SAMLDEBUG_DEFAULT_SKEW, 180)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "ticket"]),
    default="text",
    show_default=True,
    help="ticket: the diagnosis, steps and key evidence to paste into a support ticket.",
)
@click.option(
    "--max-xml-bytes",
    type=click.IntRange(1024, 64 * MiB),
    help="Largest decoded XML message (default: SAMLDEBUG_MAX_XML_BYTES, 1 MiB).",
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
    signin_log: str | None,
    lookup_signins: bool,
    signin_filter: str | None,
    expected_name_id: str | None,
    signing: str | None,
    sp_key: tuple[str, ...],
    sp_key_password: str | None,
    now_text: str | None,
    skew: int | None,
    fmt: str,
    max_xml_bytes: int | None,
) -> None:
    """Analyse a SAML message: a file, '-' for stdin, or the pasted text itself."""
    now = parse_now(now_text)
    config, instance = load_config(max_xml_bytes)
    limits = config.limits()
    data, size = _read_input(input_, limits.max_input_bytes)
    profiles_file = config.profiles_path(instance)
    profile, profile_notes = resolve_profile(profile_name, preset, preset_params, sp_metadata, limits, profiles_file)
    keys = []
    for path in sp_key:
        try:
            keys += decrypt.load_private_keys(_read(path, "--sp-key"), (sp_key_password or "").encode() or None)
        except decrypt.DecryptError as e:
            raise click.BadParameter(f"{path}: {e}", param_hint="--sp-key") from None
    settings, notes = build_settings(
        config,
        now,
        metadata=metadata,
        cert=cert,
        sp_entity_id=sp_entity_id,
        acs_url=acs_url,
        idp_entity_id=idp_entity_id,
        skew=skew,
        tenant=tenant,
        app_id=app_id,
        cloud=cloud,
        allow_hosts=allow_host,
        profile=profile,
        sp_cert=sp_cert,
        expected_name_id=expected_name_id,
        decryption_keys=tuple(keys),
        signing=signing,
    )
    log_data = None
    if signin_log:
        read_log, log_size = _read_input(signin_log, limits.max_capture_bytes, limits.max_capture_bytes)
        log_data = read_log if isinstance(read_log, bytes) else bytes(read_log)
        if len(log_data) > limits.max_capture_bytes:
            raise click.BadParameter(
                f"{signin_log}: {mib(log_size or len(log_data))}, larger than {mib(limits.max_capture_bytes)}",
                param_hint="--signin-log",
            )
    notes = tuple(profile_notes) + notes
    # Only data over a cap needs its kind (a capture has the larger cap): sniffing costs a copy of its head.
    is_capture = len(data) > min(limits.max_input_bytes, limits.max_capture_bytes) and _large_kind(data[:_HEAD])
    cap = limits.max_capture_bytes if is_capture else limits.max_input_bytes
    if len(data) > cap:
        shown = mib(size) if size is not None else f"more than {mib(cap)}"
        report = stopped(oversized("capture" if is_capture else "input", shown, cap), size or len(data), settings, now)
    else:
        run = functools.partial(
            analyze, data, settings, now=now, notes=notes, entry=entry, at_message_time=now_text is None
        )
        report = run(signin_log=log_data, signin_filter=signin_filter)
        if lookup_signins and log_data is None:
            looked_up = _lookup_signins(config, report)
            if looked_up is not None:
                report = run(signin_log=looked_up, signin_filter=signin_filter)
    if fmt == "json":
        _write_json(dumps(report))
    elif fmt == "ticket":
        click.echo(ticket_text(report), nl=False)
    else:
        click.echo(to_text(report, colour=sys.stdout.isatty() and "NO_COLOR" not in os.environ), nl=False)
    sys.exit(int(exit_code(report)))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn workers.")
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    envvar="SAMLDEBUG_THREADS",
    help="Threads per worker (gthread): a slow analysis never stops /healthz or the page.",
)
@click.option("--timeout", default=60, show_default=True, type=click.IntRange(5, 3600), help="Worker timeout (s).")
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1,::1",
    show_default=True,
    help="Proxies whose X-Forwarded-* headers are trusted; used only when SAMLDEBUG_TRUST_PROXY_HEADERS is set.",
)
@click.option("--debug", is_flag=True, help="Flask's development server with the debugger (never in production).")
def serve_cmd(
    host: str, port: int, workers: int, threads: int, timeout: int, forwarded_allow_ips: str, debug: bool
) -> None:
    """Serve the web page: gunicorn by default, Flask's development server only with --debug."""
    if debug:
        from .web import create_app

        create_app().run(host=host, port=port, debug=True)
        return
    from gunicorn.app.wsgiapp import run  # the same entry point as the `gunicorn` command

    config, _folder = AppConfig.from_environment()
    sys.argv = serve_argv(
        host, port, workers, threads, timeout, forwarded_allow_ips if config.trust_proxy_headers else ""
    )
    run()


def serve_argv(host: str, port: int, workers: int, threads: int, timeout: int, forwarded_allow_ips: str) -> list[str]:
    """gunicorn's command line for `samldebug serve`: the redacting logger for the access and the error log (no
    permalink key or delete token is ever written), threaded workers, and X-Forwarded-* trusted only from the
    given proxies (none unless the operator configured proxy trust).

    No keep-alive: a gthread worker accepts every connection it sees, whatever its load, and keeps a kept-alive
    connection to itself, so 16 clients with persistent connections ended up 100/0 to 63/37 on two workers (one
    core idle, its clients waiting). One request per connection lets whichever worker is free take the next one;
    behind the documented reverse proxy nothing changes (nginx opens a connection per request by default).

    The workers' heartbeat file lives in /dev/shm when there is one (gunicorn's own advice): the heartbeat touches it
    on every turn of the worker's loop, and on a disk filesystem that sometimes waits on the journal (up to 8 ms
    measured here, against 0.1 ms on tmpfs), with no connection accepted meanwhile."""
    shm = "/dev/shm"  # noqa: S108 - gunicorn makes its heartbeat file there with mkstemp and unlinks it at once
    heartbeat = ["--worker-tmp-dir", shm] if os.path.isdir(shm) and os.access(shm, os.W_OK) else []
    return [
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "0",
        *heartbeat,
        "--timeout",
        str(timeout),
        "--logger-class",
        "samldebug.web.logs.RedactingLogger",
        "--access-logfile",
        "-",
        "--error-logfile",
        "-",
        f"--forwarded-allow-ips={forwarded_allow_ips}",
        "samldebug.web:create_app()",
    ]


@main.command("purge")
@click.option("--database-url", envvar="SAMLDEBUG_DATABASE_URL", help="Default: the instance folder's SQLite file.")
def purge_cmd(database_url: str | None) -> None:
    """Delete expired shared reports and test SP state (run it from cron or a systemd timer)."""
    from .store import Store, StoreError
    from .store.testsp import TestSPStore

    if not database_url:
        from .web import create_app

        database_url = create_app().config["SAMLDEBUG"].database_url
    store = Store(database_url)
    try:
        store.migrate()
        removed = store.purge(datetime.now(UTC))
        sp_removed = TestSPStore(store).purge(datetime.now(UTC))
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"purged {removed} expired report(s) and {sp_removed} expired test SP record(s)")


def parse_since(value: str, now: datetime) -> datetime:
    """`7d`, `24h`, `30m`, `90s` before now, or an ISO 8601 instant."""
    from datetime import timedelta

    from .instants import parse_instant

    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    text = value.strip().lower()
    if text[:-1].isdigit() and text[-1:] in units and len(text) <= 10:
        return now - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    parsed = parse_instant(value)
    if parsed is None:
        raise click.BadParameter(f"{value!r}: use 7d, 24h, 30m or an ISO 8601 time", param_hint="--since")
    return parsed


@main.command("audit")
@click.option("--since", "since_text", default="7d", show_default=True, help="7d, 24h, 30m, or an ISO 8601 time.")
@click.option("--action", "actions", multiple=True, help="Only these actions (analyze, share, open, delete, …).")
@click.option("--user", help="Only this user.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--database-url", envvar="SAMLDEBUG_DATABASE_URL", help="Default: the instance folder's SQLite file.")
def audit_cmd(since_text: str, actions: tuple[str, ...], user: str | None, fmt: str, database_url: str | None) -> None:
    """Print the audit trail: who analysed (a count), shared, opened, revoked or deleted which report, when and
    from where (every instance writes to the same database)."""
    from .store import Store, StoreError

    since = parse_since(since_text, datetime.now(UTC))
    if not database_url:
        from .web import create_app

        database_url = create_app().config["SAMLDEBUG"].database_url
    store = Store(database_url)
    try:
        store.migrate()
        entries = store.audit_since(since)
    except StoreError as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.dispose()
    shown = [e for e in entries if (not actions or e.action in actions) and (user is None or e.user == user)]
    for e in shown:
        at = e.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if fmt == "json":
            row = {"at": at, "action": e.action, "user": e.user, "address": e.address}
            click.echo(json.dumps({**row, "report_id": e.report_id, "count": e.count}, sort_keys=True))
            continue
        what = f"×{e.count}" if e.action == "analyze" else (e.report_id or "")
        click.echo(f"{at}  {e.action:8} {e.user or '-':32} {e.address:15} {what}")
    if fmt == "text":
        analyses = sum(e.count for e in shown if e.action == "analyze")
        click.echo(f"{len(shown)} event(s) since {since:%Y-%m-%d %H:%M} UTC; {analyses} analyses", err=True)


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
@click.option("--skew", type=click.IntRange(0, 86400), help="Clock skew, seconds (default: SAMLDEBUG_DEFAULT_SKEW).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff_cmd(
    first: str,
    second: str,
    metadata: tuple[str, ...],
    cert: tuple[str, ...],
    sp_entity_id: str | None,
    acs_url: str | None,
    now_text: str | None,
    skew: int | None,
    fmt: str,
) -> None:
    """Compare two sign-ins (e.g. a working and a failing user): the differences that matter."""
    now = parse_now(now_text)
    config, _instance = load_config()
    limits = config.limits()
    settings, notes = build_settings(
        config, now, metadata=metadata, cert=cert, sp_entity_id=sp_entity_id, acs_url=acs_url, skew=skew
    )
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
    limits = Limits()
    data, _size = _read_input(input_, limits.max_capture_bytes, limits.max_capture_bytes)
    try:
        whole = data if isinstance(data, bytes) else data[:]  # sanitize rewrites the capture: it needs the bytes
        result = sanitize_capture(whole, limits, max_capture_bytes=limits.max_capture_bytes)
    except AnalysisStop as stop:
        raise click.ClickException(f"{stop.finding.title}: {stop.finding.actual or ''}".rstrip(": ")) from None
    if output:
        Path(output).write_bytes(result.data)
    else:
        sys.stdout.buffer.write(result.data)
        sys.stdout.buffer.flush()
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(result.redacted.items()) if v) or "nothing"
    click.echo(f"redacted {summary}", err=True)
