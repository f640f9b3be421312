"""What every check sees: the message kind, its root, the values to judge, the SP's settings and the instant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from ..config import Settings
from ..model import Finding, SignatureResult, Values

BASIC_CONFIG = "Entra admin center → Enterprise applications → your app → Single sign-on → Basic SAML Configuration"


@dataclass(frozen=True)
class Context:
    kind: str
    root: etree._Element
    values: Values  # trusted when a signature verified, else unverified
    trusted: bool
    settings: Settings
    now: datetime
    signature: SignatureResult | None

    @property
    def skew(self) -> timedelta:
        return timedelta(seconds=self.settings.skew)


Check = Callable[[Context], list[Finding]]
