"""Folding text for search: what a volunteer types and what was written match whatever the
case, the tone marks and đ/d. The phone's twin is pwa/js/text.js; both pass
schemas/fold_cases.json.

``fold(s)``: đ → d and Đ → D, Unicode NFD, the combining marks U+0300–U+036F dropped (every
Vietnamese tone mark, the circumflex, the breve, the horn), case folded, and runs of white space
made one space with none at either end. 'Lê Văn  Cường' → 'le van cuong'. For matching only,
never for storing or showing.

The twins agree on Vietnamese and on ASCII; Python's casefold and JavaScript's toLowerCase part
only on letters no household name here holds (ß, ligatures, final sigma).
"""

from __future__ import annotations

import re
import unicodedata

_MARKS = re.compile("[\u0300-\u036f]")
# One class for both twins (Python's \s and JavaScript's differ at the edges).
_SPACE = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")


def fold(s: str) -> str:
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return _SPACE.sub(" ", _MARKS.sub("", s).casefold()).strip(" ")


def like_pattern(s: str) -> str:
    """``%folded s%`` for ``fold(column) LIKE ? ESCAPE '\\'``: the query's own % and _ (and
    the escape character) taken as themselves."""
    needle = fold(s).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{needle}%"
