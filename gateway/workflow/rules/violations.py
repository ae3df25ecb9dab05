"""What a rule check returns: violations refuse the request, notices are passed back with the answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    code: str  # stable, English, snake_case
    pointer: str  # JSON pointer into the request body
    detail: str  # for people, in Russian; never contains personal data


@dataclass(frozen=True)
class Notice:
    code: str
    pointer: str
    detail: str
