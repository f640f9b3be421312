"""What every check sees: the message kind, its root, the values to judge, the SP's settings and the instant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from lxml import etree

from ..config import Settings
from ..model import Finding, SignatureResult, Values
from ..saml import SUCCESS, main_assertion

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

    # Facts several checks ask for, worked out once per message (the Context is frozen, its root never changes;
    # cached_property writes the instance dict directly, which a frozen dataclass allows).

    @cached_property
    def skew(self) -> timedelta:
        return timedelta(seconds=self.settings.skew)

    @cached_property
    def assertion(self) -> etree._Element | None:
        """The Assertion a naive reader consumes (saml.main_assertion)."""
        return main_assertion(self.root)

    @cached_property
    def issued(self) -> bool:
        """An assertion was issued: a bare Assertion, or a Success response that carries one. Otherwise the claim,
        NameID and signing checks do not run: their absence is not a finding."""
        if self.kind == "assertion":
            return True
        if self.kind != "response" or self.values.status_code not in (None, SUCCESS):
            return False
        return self.assertion is not None


Check = Callable[[Context], list[Finding]]
