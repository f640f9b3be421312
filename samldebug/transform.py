"""Which Entra claim transformation turns the value sent into the value the SP expects."""

from __future__ import annotations

import re
from collections.abc import Iterable


def hint(expected: str, actual: str, others: Iterable[str] = ()) -> str | None:
    """A sentence naming the transformation, or None when no simple one fits. `others`: other claim values
    of the same assertion (for Join())."""
    if expected == actual:
        return None
    if expected.lower() == actual.lower():
        if expected == expected.lower():
            return "The values differ only in case: apply the ToLowercase() transformation to the claim."
        if expected == expected.upper():
            return "The values differ only in case: apply the ToUppercase() transformation to the claim."
        return (
            "The values differ only in case; the SP compares case-sensitively: "
            "send the value with the case the SP stored."
        )
    if "@" in actual and actual.split("@", 1)[0] == expected:
        return "The SP wants the part before '@': apply the ExtractMailPrefix() transformation."
    if "@" in actual and actual.split("@", 1)[0].lower() == expected.lower():
        return "The SP wants the part before '@' in lower case: ExtractMailPrefix() then ToLowercase()."
    values = [v for v in others if v]
    for a in values:
        for b in values:
            if a == b:
                continue
            for sep in ("", " ", ".", "_", "-", "@", "\\"):
                if f"{a}{sep}{b}" == expected:
                    return f"The SP wants two attributes joined: Join() with separator {sep!r} ({a!r} + {b!r})."
    if re.sub(r"\W", "", expected.lower()) == re.sub(r"\W", "", actual.lower()):
        return "The values differ only in punctuation: use RegexReplace() to rewrite the claim."
    common = _common_affix(expected, actual)
    if common:
        return f"The values share {common!r} but differ around it: a RegexReplace() transformation can rewrite it."
    return None


def _common_affix(a: str, b: str) -> str | None:
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(a), len(b)) - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    if prefix >= 4:
        return a[:prefix]
    if suffix >= 4:
        return a[len(a) - suffix :]
    return None
