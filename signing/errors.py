"""The one shape of the signing package's refusals: a stable English code and a Russian message.

Callers (the gateway's problem answers, the CLI) show ``message`` to people and keep
``code`` for machines; ``str()`` gives both, as the CLI prints them.
"""

from __future__ import annotations

__all__ = ["CodedError"]


class CodedError(ValueError):
    """A refusal with a stable ``code`` and a Russian ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"
