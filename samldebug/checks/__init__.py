"""The checks: small functions, Context → findings, run in a plain list (no plugin system).

- context.py: what a check sees (Context) and the Check type;
- hints.py: near-miss hints and how Entra's editors name settings and claims;
- response.py: checks for what the IdP sends (Response, Assertion);
- request.py: checks for what the SP sends (AuthnRequest, logout messages).
"""

from __future__ import annotations

from ..model import Finding
from .context import Check, Context
from .request import REQUEST_CHECKS, REQUEST_KINDS
from .response import RESPONSE_CHECKS

CHECKS: tuple[Check, ...] = (*RESPONSE_CHECKS, *REQUEST_CHECKS)
_NOT_A_REQUEST: tuple[Check, ...] = tuple(RESPONSE_CHECKS)  # the request checks find nothing in other messages


def run(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for check in CHECKS if ctx.kind in REQUEST_KINDS else _NOT_A_REQUEST:
        out.extend(check(ctx))
    return out


__all__ = ["CHECKS", "Check", "Context", "run"]
