"""The speed targets the issues set, checked against the figures of one bench run.

Each section of ``make bench`` returns its figures; ``targets_of`` turns the ones an
issue names a target for into ``Target`` rows, and the report puts them first, each
with PASS or FAIL beside it.  Targets are ratios against a peer or a floor timed in the
same run (so a noisy machine moves both sides alike), or, where an issue states one,
an absolute figure.  Nothing here is asserted in the tests: speed is reported, not
gated (a slow neighbour must not turn CI red).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One measured figure against the bound an issue sets for it."""

    issue: int  # the issue that set the target: for the code's history, not printed
    what: str
    measured: float
    bound: float
    unit: str
    at_least: bool = False  # True when the figure must reach the bound, not stay under it

    @property
    def passed(self) -> bool:
        return self.measured >= self.bound if self.at_least else self.measured <= self.bound

    def row(self) -> str:
        sign = "≥" if self.at_least else "≤"
        verdict = "**PASS**" if self.passed else "**FAIL**"
        return (
            f"| {self.what} | {self.measured:,.2f} {self.unit} | "
            f"{sign} {self.bound:,.2f} {self.unit} | {verdict} |"
        )


def table(targets: list[Target]) -> list[str]:
    """The report's first section: every target, measured, bound, PASS/FAIL."""
    passed = sum(t.passed for t in targets)
    return [
        "## Targets",
        "",
        f"{passed} of {len(targets)} targets met in this run.",
        "",
        "| figure | measured | target | |",
        "|---|---:|---:|---|",
        *(t.row() for t in targets),
        "",
    ]
