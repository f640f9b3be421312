"""Instants: reading xs:dateTime and user-given times, writing them back, and saying how far apart two are.

One module for every time value the core reads or prints (message validity windows, certificate dates, HAR
`startedDateTime`, `--now` / the form's "evaluate at"). Nothing here reads the clock: callers pass `now`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
# Instants the core can compute with: adding a skew or a lifetime to one must never leave datetime's range
# (9999-12-31T23:59:59-14:00 is past datetime.max once in UTC; OverflowError was an internal error).
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


def _in_range(dt: datetime) -> datetime | None:
    try:
        utc = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return utc if EARLIEST <= utc <= LATEST else None


@lru_cache(maxsize=1024)
def parse_time(value: str | None) -> datetime | None:
    """xs:dateTime as SAML uses it; fractions beyond microseconds (ADFS writes 7 digits) are cut."""
    if not value:
        return None
    m = _TIME.match(value.strip())
    if not m:
        return None
    base, frac, tz = m.groups()
    text = base + ((frac or "")[:7]) + ("+00:00" if tz in (None, "Z") else tz)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _in_range(dt)


def parse_instant(text: str | None) -> datetime | None:
    """A user- or tool-given instant (--now, the form's "evaluate at", a HAR's startedDateTime): xs:dateTime, or
    any ISO 8601 form; one without a zone is taken as UTC (a datetime-local field, some HAR writers). None when
    it is neither."""
    if not text:
        return None
    parsed = parse_time(text)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.strip())
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    return _in_range(parsed)


def iso(dt: datetime) -> str:
    """An instant as reports print it: UTC, whole seconds, "Z"."""
    u = dt.astimezone(UTC)
    # What strftime("%Y-%m-%dT%H:%M:%SZ") prints (glibc: the year unpadded), at about half its cost.
    return f"{u.year}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def duration(delta: timedelta) -> str:
    """A span for people: "2 d 3 h", "5 min", "42 s" (sign dropped)."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    if not days:
        parts.append(f"{secs} s" if secs or not any(parts) else "")
    return " ".join(p for p in parts if p)
