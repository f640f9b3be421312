"""samldebug: decode, verify and explain SAML messages and captures."""

from __future__ import annotations

from datetime import UTC, datetime

from .config import Limits, Settings
from .model import Finding, Report, Severity
from .pipeline import analyze as _analyze

__version__ = "0.1.0"


def analyze(data: bytes | str, settings: Settings | None = None, now: datetime | None = None) -> Report:
    """Analyse one pasted input. `now` is the evaluation instant (default: the current time)."""
    return _analyze(data, settings, now=now or datetime.now(UTC))


__all__ = ["Finding", "Limits", "Report", "Settings", "Severity", "__version__", "analyze"]
