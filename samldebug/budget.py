"""One CPU-time budget per analysis, shared by every step (decode, parse, signature, checks, catalog, capture).

The budget is CPU time of the analysing thread (`time.thread_time`), so a busy machine or a slow client does not
eat it, and threads of one worker do not share it. The pipeline opens one with `running(...)`; a step that can
take long calls `check(stage)` between units of work. Past the limit `check` raises `BudgetExceeded` (an
`AnalysisStop` carrying `analysis_budget_exceeded`), which the pipeline turns into a finding beside the partial
results gathered so far. Without an open budget, `check` does nothing (library callers who analyse one message
directly keep today's behaviour).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .catalog import finding
from .model import AnalysisStop, Finding

Clock = Callable[[], float]


class BudgetExceeded(AnalysisStop):
    """The analysis used up its CPU budget; `finding` says in which step."""


class Budget:
    def __init__(self, seconds: float, clock: Clock = time.thread_time) -> None:
        self.seconds = seconds
        self.clock = clock
        self.started = clock()
        self.stage: str | None = None  # where it ran out, once it has

    def used(self) -> float:
        return self.clock() - self.started

    def expired(self) -> bool:
        return self.used() > self.seconds

    def exceeded(self, stage: str) -> Finding:
        self.stage = self.stage or stage
        return finding(
            "analysis_budget_exceeded",
            expected=f"at most {self.seconds:g} s of CPU time per analysis",
            actual=f"cut off during {stage} after {self.used():.2f} s; the results before that point are shown",
        )

    def check(self, stage: str) -> None:
        if self.expired():
            raise BudgetExceeded(self.exceeded(stage))


_current: ContextVar[Budget | None] = ContextVar("samldebug_budget", default=None)


def current() -> Budget | None:
    return _current.get()


def check(stage: str) -> None:
    """Raise BudgetExceeded when the open budget (if any) is used up."""
    budget = _current.get()
    if budget is not None:
        budget.check(stage)


def expired() -> bool:
    budget = _current.get()
    return budget is not None and budget.expired()


@contextmanager
def running(seconds: float, clock: Clock = time.thread_time) -> Iterator[Budget]:
    """Open a budget for the analysis in this context (an inner call reuses the outer budget: one analysis,
    one budget, whatever calls whatever)."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    budget = Budget(seconds, clock)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)
