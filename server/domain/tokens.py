"""Secrets handed to phones: one-time enrollment codes and device tokens, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

# No 0/O, 1/I/L: volunteers may have to type a code read aloud.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CODE_LIFETIME = timedelta(hours=24)


def hash_secret(secret: str) -> str:
    # Codes and tokens are long random strings, so a plain SHA-256 cannot be brute-forced;
    # a slow password hash would only slow every sync request.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_enrollment_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """What a person typed → the code: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_device_token() -> str:
    return secrets.token_urlsafe(32)


def expiry(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)) + CODE_LIFETIME
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
