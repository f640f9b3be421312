"""The checks: small functions, Context → findings, run in a plain list (no plugin system).

- context.py: what a check sees (Context) and the Check type;
- hints.py: near-miss hints and how Entra's editors name settings and claims;
- response.py: checks for what the IdP sends (Response, Assertion);
- request.py: checks for what the SP sends (AuthnRequest, logout messages).
"""

from __future__ import annotations

from ..model import Finding
from .context import Check, Context
from .request import REQUEST_CHECKS
from .response import RESPONSE_CHECKS

CHECKS: tuple[Check, ...] = (*RESPONSE_CHECKS, *REQUEST_CHECKS)


def run(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for check in CHECKS:
        out.extend(check(ctx))
    return out


__all__ = ["CHECKS", "Check", "Context", "run"]
