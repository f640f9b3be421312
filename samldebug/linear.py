"""Patterns applied to untrusted text, compiled with RE2 (google-re2): matching time is linear in the text,
whatever the pattern and the input (no backtracking). Python's `re` backtracks: `<form\\b[^>]*>` over many `<form`
without `>` or `.*, got .*` over a crafted error message is quadratic or worse.

Use `compile` for every pattern that scans text a visitor controls, unless the pattern is a literal (those scan at
memchr speed in `re`). Two habits keep the whole scan linear, not only each call: iterate with `finditer` (one pass)
rather than calling `search(text, pos)` in a loop on `str` (the RE2 wrapper re-encodes a `str` on every call), and
never search again for something an earlier search already failed to find further on.

RE2 has no look-around and no back-references; patterns here are written without them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import AnyStr, Generic, Protocol, TypeVar, cast

import re2  # type: ignore[import-untyped]

_S = TypeVar("_S", str, bytes, covariant=True)


class Match(Protocol[_S]):
    def group(self, index: int | str = 0, /) -> _S: ...
    def groups(self) -> tuple[_S | None, ...]: ...
    def start(self, index: int = 0, /) -> int: ...
    def end(self, index: int = 0, /) -> int: ...
    def span(self, index: int = 0, /) -> tuple[int, int]: ...


class Pattern(Generic[AnyStr]):
    """A compiled RE2 pattern with the `re.Pattern` methods this project uses."""

    def __init__(self, source: AnyStr, *, ignore_case: bool = False, dot_all: bool = False) -> None:
        options = re2.Options()
        options.case_sensitive = not ignore_case
        options.dot_nl = dot_all
        options.max_mem = 8 << 20  # the compiled automaton's memory, not the text's
        self.source: AnyStr = source
        self._re = re2.compile(source, options)

    def search(self, text: AnyStr, pos: int = 0) -> Match[AnyStr] | None:
        return cast("Match[AnyStr] | None", self._re.search(text, pos))

    def match(self, text: AnyStr, pos: int = 0) -> Match[AnyStr] | None:
        return cast("Match[AnyStr] | None", self._re.match(text, pos))

    def fullmatch(self, text: AnyStr) -> Match[AnyStr] | None:
        return cast("Match[AnyStr] | None", self._re.fullmatch(text))

    def finditer(self, text: AnyStr, pos: int = 0) -> Iterator[Match[AnyStr]]:
        return cast("Iterator[Match[AnyStr]]", self._re.finditer(text, pos))

    def findall(self, text: AnyStr) -> list[AnyStr]:
        return cast("list[AnyStr]", self._re.findall(text))

    def sub(self, repl: AnyStr | Callable[[Match[AnyStr]], AnyStr], text: AnyStr) -> AnyStr:
        return cast("AnyStr", self._re.sub(repl, text))


def compile(source: AnyStr, *, ignore_case: bool = False, dot_all: bool = False) -> Pattern[AnyStr]:  # noqa: A001
    """A linear-time pattern (raises `re2.error` for look-around, back-references and other RE2 refusals)."""
    return Pattern(source, ignore_case=ignore_case, dot_all=dot_all)


error = re2.error


def escape(text: str) -> str:
    """`text` as a pattern that matches it literally."""
    return str(re2.escape(text))
