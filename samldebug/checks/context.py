"""What every check sees: the message kind, its root, the values to judge, the SP's settings and the instant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
    # Facts several checks ask for, worked out once per message in __post_init__ (cheaper than cached_property,
    # which takes a lock on first access in Python 3.11).
    skew: timedelta = field(init=False, repr=False, compare=False)
    assertion: etree._Element | None = field(init=False, repr=False, compare=False)  # saml.main_assertion
    # An assertion was issued: a bare Assertion, or a Success response that carries one. Otherwise the claim,
    # NameID and signing checks do not run: their absence is not a finding.
    issued: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        assertion = main_assertion(self.root)
        if self.kind == "assertion":
            issued = True
        elif self.kind != "response" or self.values.status_code not in (None, SUCCESS):
            issued = False
        else:
            issued = assertion is not None
        object.__setattr__(self, "skew", timedelta(seconds=self.settings.skew))
        object.__setattr__(self, "assertion", assertion)
        object.__setattr__(self, "issued", issued)


Check = Callable[[Context], list[Finding]]
