"""The phone's own rules (``pwa/js/form.js``) run by node over records, so that a test holds
them against the server's checker: the twin rules of docs/architecture.md."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

CHECK_CLI = Path(__file__).resolve().parent / "js" / "check_cli.mjs"


def phone_check(form: dict[str, Any], cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each case (``{data, today?, settle?}``) as the phone takes it: ``{settled, errors}``,
    the data after settling (when asked) and its errors by path."""
    out = subprocess.run(
        ["node", str(CHECK_CLI)],
        input=json.dumps({"form": form, "cases": cases}),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def error_codes(errors: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Errors by path as their codes alone."""
    return {path: [e["code"] for e in found] for path, found in errors.items()}
