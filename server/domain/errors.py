"""How the domain says no: ``Refused`` for a person's action on a page, ``ApiError`` for a
request of the sync protocol (its HTTP status and code are part of the protocol)."""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """An action the rules do not allow; ``code`` names the catalogue message, ``status`` the
    HTTP status a page answers with, ``params`` fill the message."""

    def __init__(self, code: str, status: int = 400, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


class ApiError(Exception):
    """A request the sync API refuses: an HTTP status, a code, and the message's parameters."""

    def __init__(
        self, status: int, code: str, errors: dict[str, Any] | None = None, **params: Any
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.errors = errors
        self.params = params
