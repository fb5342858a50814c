"""``${name}`` references in a form's words: labels, hints, guidance hints, required and
constraint messages, choice labels. The phone's twin is pwa/js/labels.js; both pass
schemas/label_cases.json.

The rules are ODK's (an XLSForm label's ``${x}`` becomes ``<output value="${x}"/>``):

* ``${x}`` is x's answer where the text is shown (``position``): inside a repeat instance, the
  same instance's sibling; a top-level question's answer anywhere. It is resolved by the
  expression engine, so a question inside a repeat read from outside it gives the first
  instance's answer, and a position whose index names no instance (``NO_INSTANCE``, the heading
  shared by every instance) gives ``''`` for the questions inside.
* the value is written as the engine's ``string()`` writes it: ``3`` never ``3.0``; a
  select_one shows the chosen choice's *name* and a select_multiple the names separated by
  spaces, as ODK Collect and Enketo do (a choice's label is ``jr:choice-name``'s job, in a
  calculation);
* no answer is ``''``; an answer to a question that does not apply is ``''`` too, because the
  data given is settled (schemas/settle.py drops such answers);
* ``${name}`` of no field in the form, or that the engine cannot read, stays as written, so
  that the mistake is visible; a value is inserted once and never read for references again.

The result is plain text: whoever shows it must escape it (the phone sets textContent; Jinja
autoescapes the staff pages).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.expressions import Context, ExpressionError, evaluate, to_string
from schemas.form import Form, Node

# ``${name}``, spaces around the name allowed (as the form check allows them).
REFERENCE = re.compile(r"\$\{[ \t\r\n]*([^{}]*?)[ \t\r\n]*\}")
# The index of a repeat instance that does not exist: the heading shared by every instance.
NO_INSTANCE = -1

Position = Sequence[Sequence[Any]]
# One fields map per form: the engine keeps what it learns of a map per map object.
_FIELDS: weakref.WeakKeyDictionary[Form, dict[str, list[str]]] = weakref.WeakKeyDictionary()


def fill(text: str, form: Form, data: Mapping[str, Any], position: Position = ()) -> str:
    """``text`` with each ``${name}`` replaced by that field's answer at ``position``."""
    if "${" not in text:
        return text
    fields = _FIELDS.get(form)
    if fields is None:
        fields = _FIELDS[form] = form.field_repeats()
    ctx = Context(data=data, fields=fields, position=[list(p) for p in position])

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fields:
            return match.group(0)
        try:
            return to_string(evaluate("${" + name + "}", ctx))
        except ExpressionError:
            return match.group(0)

    return REFERENCE.sub(value, text)


def text(
    form: Form,
    row: Mapping[str, Any],
    column: str,
    lang: str | None,
    data: Mapping[str, Any],
    position: Position = (),
) -> str:
    """A translated column of a survey or choices row (``hint``, ``constraint_message``...),
    filled in."""
    return fill(form.text(dict(row), column, lang), form, data, position)


def label(
    form: Form, node: Node, lang: str | None, data: Mapping[str, Any], position: Position = ()
) -> str:
    """A question's, group's or repeat's label filled in (its name when it has none)."""
    return fill(form.label(node, lang), form, data, position)
