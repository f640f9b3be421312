"""Command line: the same report as the web page, exit code by the worst severity.

Exit codes: 0 no error finding, 1 at least one error finding, 2 usage error (bad flags, unreadable file).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO

import click

from . import trust
from .catalog import finding
from .config import Limits, Settings
from .decode import mib, oversized
from .model import Finding, Report, Severity
from .pipeline import analyze, stopped
from .report import dumps, to_text


class ExitCode(IntEnum):
    OK = 0
    ERRORS = 1
    USAGE = 2


def parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    from .checks import parse_time

    parsed = parse_time(value)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def read_bounded(stream: BinaryIO, cap: int) -> bytes:
    """At most cap+1 bytes: enough to know the input is too large, never more."""
    return stream.read(cap + 1)


def _read_input(source: str, cap: int) -> tuple[bytes, int | None]:
    """(data, known size). A path that does not exist but looks like pasted data is taken literally."""
    if source == "-":
        return read_bounded(sys.stdin.buffer, cap), None
    path = Path(source)
    try:
        is_file = len(source) < 4096 and path.is_file()
    except OSError:  # e.g. "file name too long": it is pasted text
        is_file = False
    if is_file:
        size = path.stat().st_size
        with path.open("rb") as fh:
            return read_bounded(fh, cap), size
    if len(source) > 64 or source.lstrip().startswith("<"):
        return source.encode(), len(source)
    raise click.BadParameter(f"no such file: {source}", param_hint="INPUT")


def build_settings(
    metadata: tuple[str, ...],
    cert: tuple[str, ...],
    sp_entity_id: str | None,
    acs_url: str | None,
    idp_entity_id: str | None,
    skew: int,
    limits: Limits,
    now: datetime,
) -> tuple[Settings, tuple[Finding, ...]]:
    def read(src: str, flag: str) -> bytes:
        try:
            return Path(src).read_bytes()
        except OSError as e:
            raise click.BadParameter(f"cannot read {src}: {e.strerror}", param_hint=flag) from None

    found = trust.collect(
        [(read(src, "--metadata"), f"metadata {Path(src).name}") for src in metadata],
        [(read(src, "--cert"), f"--cert {Path(src).name}") for src in cert],
        limits,
    )
    bad = [n for n in found.notes if n.code == "bad_certificate"]
    if bad:
        raise click.BadParameter(f"{bad[0].where}: {bad[0].actual}", param_hint="--cert")
    settings = Settings(
        sp_entity_id=sp_entity_id,
        acs_url=acs_url,
        idp_entity_id=idp_entity_id or found.idp_entity_id,
        anchors=tuple(found.anchors),
        skew=skew,
        limits=limits,
    )
    return settings, tuple(found.notes)


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
    now_text: str | None,
    skew: int,
    fmt: str,
    max_xml_bytes: int,
) -> None:
    """Analyse a SAML message: a file, '-' for stdin, or the pasted text itself."""
    now = parse_now(now_text)
    limits = Limits(max_xml_bytes=max_xml_bytes, max_input_bytes=max(Limits().max_input_bytes, max_xml_bytes * 4))
    data, size = _read_input(input_, limits.max_input_bytes)
    settings, notes = build_settings(metadata, cert, sp_entity_id, acs_url, idp_entity_id, skew, limits, now)
    if len(data) > limits.max_input_bytes:
        shown = mib(size) if size is not None else f"more than {mib(limits.max_input_bytes)}"
        report = stopped(oversized("input", shown, limits.max_input_bytes), size or len(data), settings, now)
    else:
        report = analyze(data, settings, now=now, notes=notes)
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
