"""What changed between two revisions of a record, question by question, in the form's words."""

from __future__ import annotations

from typing import Any

from schemas import labels
from schemas.form import Form, Node
from server.domain.records.query import answer_text


def flatten(form: Form, data: dict[str, Any], lang: str) -> list[tuple[str, str, str]]:
    """Every answer as (path, label, text), in form order: ``members[1].birth_year`` reads
    "Household members 2 · Year of birth" (``${references}`` filled in from ``data``). Answers
    the form does not know come last, by name."""
    out: list[tuple[str, str, str]] = []
    known: set[str] = set()
    _flatten(form, form.root, data, lang, "", "", out, known, data, ())
    for key in sorted(k for k in data if k not in known):
        out.append((key, key, _raw(data[key])))
    return out


def _flatten(
    form: Form,
    node: Node,
    scope: dict[str, Any],
    lang: str,
    prefix: str,
    title: str,
    out: list[tuple[str, str, str]],
    known: set[str],
    data: dict[str, Any],
    position: tuple[tuple[str, int], ...],
) -> None:
    for child in node.children:
        if child.kind == "group":
            _flatten(form, child, scope, lang, prefix, title, out, known, data, position)
        elif child.kind == "repeat":
            known.add(child.name)
            instances = scope.get(child.name)
            if not isinstance(instances, list):
                continue
            for index, instance in enumerate(instances):
                if isinstance(instance, dict):
                    at = (*position, (child.name, index))
                    label = labels.label(form, child, lang, data, at)
                    _flatten(
                        form,
                        child,
                        instance,
                        lang,
                        f"{prefix}{child.name}[{index}].",
                        f"{title}{label} {index + 1} · ",
                        out,
                        set(),
                        data,
                        at,
                    )
        elif child.type != "note":
            known.add(child.name)
            if child.name in scope:
                out.append(
                    (
                        prefix + child.name,
                        title + labels.label(form, child, lang, data, position),
                        answer_text(form, child, scope[child.name], lang, data, position),
                    )
                )


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def diff(
    form: Form | None, old: dict[str, Any], new: dict[str, Any], lang: str
) -> list[dict[str, str]]:
    """The answers that differ: ``[{path, label, old, new}]`` in form order; an answer that
    appeared or went away has an empty side."""
    if form is None:
        keys = sorted(set(old) | set(new))
        return [
            {"path": k, "label": k, "old": _raw(old.get(k, "")), "new": _raw(new.get(k, ""))}
            for k in keys
            if old.get(k) != new.get(k)
        ]
    before = {path: (label, text) for path, label, text in flatten(form, old, lang)}
    after = {path: (label, text) for path, label, text in flatten(form, new, lang)}
    order = [p for p, _, _ in flatten(form, new, lang)]
    order += [p for p in before if p not in after]
    out = []
    for path in order:
        label = (after.get(path) or before[path])[0]
        was, now = before.get(path, ("", ""))[1], after.get(path, ("", ""))[1]
        if was != now:
            out.append({"path": path, "label": label, "old": was, "new": now})
    return out
