"""Every action the code writes to the audit log has a label in both languages: the audit page
shows people words, never a code such as ``view_record``."""

from __future__ import annotations

import ast
from pathlib import Path

from schemas.messages import LANGUAGES, catalogue

SERVER = Path(__file__).resolve().parents[2] / "server"
# The writers, and which argument is the action.
WRITERS = {"audit": 1, "audited": 0, "defer_audit": 0, "_audit": 1}
# Helpers that pass on an action their own callers named (those callers are walked too).
FORWARDERS = {"_after_request", "audited", "_audit"}


def _actions() -> tuple[dict[str, list[str]], list[str]]:
    found: dict[str, list[str]] = {}
    unknown: list[str] = []
    for path in sorted(SERVER.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if name not in WRITERS or len(node.args) <= WRITERS[name]:
                    continue
                argument = node.args[WRITERS[name]]
                strings = [
                    n.value
                    for n in ast.walk(argument)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                ]
                where = f"{path.relative_to(SERVER.parent)}:{node.lineno}"
                if strings:
                    for action in strings:
                        found.setdefault(action, []).append(where)
                elif getattr(function, "name", "") not in FORWARDERS:
                    unknown.append(f"{where}: {ast.unparse(argument)}")
    return found, unknown


def test_the_walk_finds_the_actions_it_must():
    found, unknown = _actions()
    # A computed action name cannot be checked here: name it where the entry is written.
    assert not unknown, unknown
    assert {"login", "login_failed", "view_record", "review", "export_records"} <= found.keys()
    assert len(found) >= 40


def test_every_audited_action_has_a_label_in_both_languages():
    found, _ = _actions()
    missing = [
        f"{lang}: admin.action_{action} ({found[action][0]})"
        for lang in LANGUAGES
        for action in sorted(found)
        if not catalogue(lang).get(f"admin.action_{action}", "").strip()
    ]
    assert not missing, missing
    for action in found:
        vi, en = (catalogue(lang)[f"admin.action_{action}"] for lang in LANGUAGES)
        assert action not in (vi, en) and vi != en, action
