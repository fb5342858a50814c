"""Lexer and parser for the XLSForm expression language (the ODK XPath subset).

The grammar is XPath 1.0's expression grammar cut down to what XLSForm authors write::

    or    := and ('or' and)*
    and   := eq ('and' eq)*
    eq    := rel (('=' | '!=') rel)*
    rel   := add (('<' | '<=' | '>' | '>=') add)*
    add   := mul (('+' | '-') mul)*
    mul   := unary (('*' | 'div' | 'mod') unary)*
    unary := '-' unary | primary
    primary := number | string | ${name} | '.' | '(' or ')' | name '(' args ')'

Location paths (``/data/x``, ``../x``, bare ``x``), predicates, ``|`` and variables are not part
of the language: XLSForm refers to answers with ``${name}`` only. ``..`` is accepted solely as the
argument of ``position(..)``; ``jr:`` is the one namespace prefix, for ``jr:choice-name``.
Numbers have no exponent (XPath has none), strings have no escapes.
``and``/``or``/``div``/``mod`` are operators wherever an operator may stand, as XPath's lexing rule
says; an NCName may contain ``-`` only between letters so that ``5 div-1`` still means ``5 div -1``.

Unknown functions, wrong argument counts and malformed ``count``/``sum``/``position`` arguments
are parse errors; unknown ``${names}`` can only be detected against a form, at evaluation time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "FUNCTIONS",
    "Binary",
    "Call",
    "Current",
    "ExpressionError",
    "Node",
    "Num",
    "Parent",
    "Ref",
    "Str",
    "Unary",
    "parse",
    "references",
    "uses_current",
]

# name -> (minimum, maximum or None for "any number") argument count.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2),
    "count-selected": (1, 1),
    "if": (3, 3),
    "coalesce": (2, 2),
    "string-length": (1, 1),
    "regex": (2, 2),
    "today": (0, 0),
    "now": (0, 0),
    "int": (1, 1),
    "number": (1, 1),
    "string": (1, 1),
    "boolean": (1, 1),
    "true": (0, 0),
    "false": (0, 0),
    "not": (1, 1),
    "concat": (0, None),
    "join": (1, None),
    "contains": (2, 2),
    "starts-with": (2, 2),
    "substr": (2, 3),
    "round": (1, 2),
    "floor": (1, 1),
    "ceiling": (1, 1),
    "abs": (1, 1),
    "min": (1, None),
    "max": (1, None),
    "count": (1, 1),
    "sum": (1, 1),
    "position": (0, 1),
    "decimal-date-time": (1, 1),
    "format-date": (2, 2),
    "format-date-time": (2, 2),
    "date": (1, 1),
    "date-time": (1, 1),
    "decimal-time": (1, 1),
    "substring": (2, 3),
    "substring-before": (2, 2),
    "substring-after": (2, 2),
    "translate": (3, 3),
    "normalize-space": (1, 1),
    "ends-with": (2, 2),
    "boolean-from-string": (1, 1),
    "pow": (2, 2),
    "sqrt": (1, 1),
    "exp": (1, 1),
    "exp10": (1, 1),
    "log": (1, 1),
    "log10": (1, 1),
    "pi": (0, 0),
    "sin": (1, 1),
    "cos": (1, 1),
    "tan": (1, 1),
    "asin": (1, 1),
    "acos": (1, 1),
    "atan": (1, 1),
    "atan2": (2, 2),
    "area": (1, 1),
    "distance": (1, 1),
    "geofence": (2, 2),
    "selected-at": (2, 2),
    "checklist": (2, None),
    "weighted-checklist": (2, None),
    "count-non-empty": (1, 1),
    "once": (1, 1),
    "digest": (2, 3),
    "base64-decode": (1, 1),
    "uuid": (0, 1),
    "random": (0, 0),
    "randomize": (1, 2),
    "indexed-repeat": (3, None),
    "jr:choice-name": (2, 2),
    "pulldata": (4, 4),
}

# Functions whose argument is a node-set and so must be written as a reference.
_NODESET_ARG = frozenset({"count", "sum", "count-non-empty"})
_MAX_DEPTH = 64


class ExpressionError(ValueError):
    """A malformed expression, or one that cannot be evaluated against the given form.

    ``code`` is one of: ``syntax``, ``unknown_function``, ``arity``, ``type`` (an argument that
    must be a reference is not), ``unknown_field``, ``no_current`` (``.`` with no current field),
    ``regex`` (an invalid regular expression).
    """

    def __init__(self, code: str, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Num:
    value: float


@dataclass(frozen=True, slots=True)
class Str:
    value: str


@dataclass(frozen=True, slots=True)
class Ref:
    name: str


@dataclass(frozen=True, slots=True)
class Current:
    """``.``: the answer of the field the expression belongs to."""


@dataclass(frozen=True, slots=True)
class Parent:
    """``..``: only ever the argument of ``position``."""


@dataclass(frozen=True, slots=True)
class Unary:
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Num | Str | Ref | Current | Parent | Unary | Binary | Call

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<ref>\$\{(?P<refname>[^}]*)\})
  | (?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)
  | (?P<dotdot>\.\.)
  | (?P<dot>\.)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<op>!=|<=|>=|[=<>+\-*(),])
  | (?P<name>(?:jr:)?[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)
""",
    re.VERBOSE,
)
# A name, or the path that keys a name used in two groups (``mother/age``): the form's own
# questions (an ``or_other`` companion's relevance) read such a key; the form check refuses
# one written in a form, as pyxform does.
_FIELD_NAME = re.compile(r"[^\W\d][\w.-]*(?:/[^\W\d][\w.-]*)*")
_OPERATOR_NAMES = frozenset({"and", "or", "div", "mod"})
_EQ = frozenset({"=", "!="})
_REL = frozenset({"<", "<=", ">", ">="})
_ADD = frozenset({"+", "-"})
_MUL = frozenset({"*", "div", "mod"})


def _syntax(expr: str, pos: int, what: str) -> ExpressionError:
    near = expr[pos : pos + 12] or "end of expression"
    return ExpressionError("syntax", f"syntax error at position {pos} ({near!r}): {what}", pos)


def _tokenize(expr: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            ch = expr[pos]
            if expr.startswith("${", pos):
                raise _syntax(expr, pos, "'${' without a closing '}'")
            if ch in "'\"":
                raise _syntax(expr, pos, "string literal without a closing quote")
            raise _syntax(expr, pos, f"unexpected character {ch!r}")
        kind = m.lastgroup
        if kind == "refname":
            kind = "ref"
        if kind == "ref":
            name = m.group("refname")
            if not _FIELD_NAME.fullmatch(name):
                raise _syntax(expr, pos, f"{'${' + name + '}'!r} is not a valid field reference")
            tokens.append(("ref", name, pos))
        elif kind == "str":
            tokens.append(("str", m.group()[1:-1], pos))
        elif kind == "op":
            tokens.append((m.group(), m.group(), pos))
        elif kind != "ws":
            tokens.append((kind or "", m.group(), pos))
        pos = m.end()
    tokens.append(("eof", "", len(expr)))
    return tokens


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = _tokenize(expr)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def operator(self, allowed: frozenset[str]) -> str | None:
        kind, text, _ = self.peek()
        if kind in allowed or (kind == "name" and text in allowed):
            self.i += 1
            return text
        return None

    def expect(self, kind: str, what: str) -> tuple[str, str, int]:
        tok = self.peek()
        if tok[0] != kind:
            raise _syntax(self.expr, tok[2], f"expected {what}")
        return self.take()

    def binary(self, level: int) -> Node:
        if level == 6:
            return self.unary()
        ops = (frozenset({"or"}), frozenset({"and"}), _EQ, _REL, _ADD, _MUL)[level]
        left = self.binary(level + 1)
        while (op := self.operator(ops)) is not None:
            left = Binary(op, left, self.binary(level + 1))
        return left

    def unary(self) -> Node:
        if self.peek()[0] == "-":
            self.take()
            self.enter()
            node: Node = Unary(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _syntax(self.expr, self.peek()[2], "expression is nested too deeply")

    def primary(self) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            return Num(float(text))
        if kind == "str":
            return Str(text)
        if kind == "ref":
            return Ref(text)
        if kind == "dot":
            return Current()
        if kind == "(":
            self.enter()
            node = self.binary(0)
            self.depth -= 1
            self.expect(")", "')'")
            return node
        if kind == "name":
            if self.peek()[0] != "(":
                if text in _OPERATOR_NAMES:
                    raise _syntax(self.expr, pos, f"operator '{text}' needs an operand before it")
                raise _syntax(
                    self.expr, pos, f"bare name '{text}' is not supported; write ${{{text}}}"
                )
            return self.call(text, pos)
        if kind == "dotdot":
            raise _syntax(self.expr, pos, "'..' is only supported as position(..)")
        if kind == "eof":
            raise _syntax(self.expr, pos, "expression ends too early")
        raise _syntax(self.expr, pos, f"unexpected {text!r}")

    def call(self, name: str, pos: int) -> Node:
        if name not in FUNCTIONS:
            raise ExpressionError(
                "unknown_function", f"unknown function {name}() at position {pos}", pos
            )
        self.take()  # "("
        self.enter()
        args: list[Node] = []
        if self.peek()[0] != ")":
            while True:
                if name == "position" and self.peek()[0] == "dotdot":
                    self.take()
                    args.append(Parent())
                else:
                    args.append(self.binary(0))
                if self.peek()[0] != ",":
                    break
                self.take()
        self.expect(")", "',' or ')'")
        self.depth -= 1
        low, high = FUNCTIONS[name]
        if len(args) < low or (high is not None and len(args) > high):
            wanted = (
                str(low)
                if low == high
                else f"{low} or more"
                if high is None
                else f"{low} to {high}"
            )
            raise ExpressionError(
                "arity",
                f"{name}() takes {wanted} argument(s), got {len(args)} (position {pos})",
                pos,
            )
        if name in _NODESET_ARG and not isinstance(args[0], Ref | Current):
            raise ExpressionError("type", f"{name}() needs a ${{reference}} (position {pos})", pos)
        if name == "position" and args and not isinstance(args[0], Parent):
            raise ExpressionError(
                "type",
                f"position() only supports position() and position(..) (position {pos})",
                pos,
            )
        if (name == "weighted-checklist" and len(args) % 2) or (
            name == "indexed-repeat" and not len(args) % 2
        ):
            what = (
                "a weight for each response"
                if name == "weighted-checklist"
                else "an index for each repeat"
            )
            raise ExpressionError("arity", f"{name}() needs {what} (position {pos})", pos)
        if name == "indexed-repeat" and not all(isinstance(a, Ref) for a in (args[0], *args[1::2])):
            raise ExpressionError(
                "type",
                f"indexed-repeat() needs ${{references}} to a field and repeats (position {pos})",
                pos,
            )
        return Call(name, tuple(args))


@lru_cache(maxsize=4096)
def parse(expr: str) -> Node:
    """Parse an expression into its AST (cached); raise ExpressionError when it is malformed."""
    if not isinstance(expr, str):
        raise ExpressionError("syntax", f"an expression must be a string, not {expr!r}")
    parser = _Parser(expr)
    if parser.peek()[0] == "eof":
        raise ExpressionError("syntax", "syntax error at position 0: the expression is empty", 0)
    try:
        node = parser.binary(0)
    except RecursionError:
        raise ExpressionError("syntax", "the expression is nested too deeply") from None
    kind, text, pos = parser.peek()
    if kind != "eof":
        raise _syntax(expr, pos, f"unexpected {text!r} after a complete expression")
    return node


def _walk_refs(node: Node, out: set[str]) -> None:
    if isinstance(node, Ref):
        out.add(node.name)
    elif isinstance(node, Unary):
        _walk_refs(node.operand, out)
    elif isinstance(node, Binary):
        _walk_refs(node.left, out)
        _walk_refs(node.right, out)
    elif isinstance(node, Call):
        for arg in node.args:
            _walk_refs(arg, out)


@lru_cache(maxsize=4096)
def _references(expr: str) -> frozenset[str]:
    out: set[str] = set()
    _walk_refs(parse(expr), out)
    return frozenset(out)


def references(expr: str) -> set[str]:
    """The ``${names}`` an expression reads (``.`` is not included: it is the field itself)."""
    return set(_references(expr))


def uses_current(node: Node) -> bool:
    """Whether ``.`` occurs anywhere in the expression."""
    if isinstance(node, Current):
        return True
    if isinstance(node, Unary):
        return uses_current(node.operand)
    if isinstance(node, Binary):
        return uses_current(node.left) or uses_current(node.right)
    if isinstance(node, Call):
        return any(uses_current(a) for a in node.args)
    return False
