"""Choices from an attached CSV file (``select_one_from_file`` / ``select_multiple_from_file``).

The file travels with the form when it is uploaded (the admin's Forms page). Its rows become a
choice list of the form itself, as if they had been typed on the choices sheet: the phone and
the server then read, check and show them as every other list (offline, with no file to fetch),
and a version holds its choices for ever. As ODK reads such a file: the ``name`` column is the
answer stored and ``label`` (or ``label::Language (xx)``) what is shown, unless the question's
``parameters`` name others (``value=code label=ten``); every other column can be tested by a
``choice_filter``. A file that is not UTF-8 CSV, lacks those columns, repeats a name or is past
the limits is refused, naming the file and its line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any

MAX_ROWS = 20_000
MAX_CELL = 2_000
_FROM_FILE = re.compile(
    r"^(select_one_from_file|select_multiple_from_file)\s+(\S+\.csv)$", re.IGNORECASE
)
_PARAMETER = re.compile(r"([\w-]+)\s*=\s*('[^']*'|\"[^\"]*\"|\S*)")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class Attachment:
    """A file given with the form and what it gave: its size, its hash, its choices."""

    name: str
    size: int
    sha256: str
    list_name: str | None
    choices: int


class FileChoicesError(ValueError):
    """A question's file cannot give its choices; ``line`` is the file's line, when known."""

    def __init__(self, row: int, file: str, line: int | None, en: str, vi: str) -> None:
        super().__init__(en)
        self.row, self.file, self.line, self.en, self.vi = row, file, line, en, vi


def _parameters(value: str) -> dict[str, str]:
    return {k.lower(): v.strip("'\"") for k, v in _PARAMETER.findall(value or "")}


def _list_name(file: str, taken: set[str]) -> str:
    stem = _NAME_CHARS.sub("_", file.rsplit(".", 1)[0]).strip("_") or "file"
    base = f"file_{stem}"[:60]
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _rows(file: str, row: int, data: bytes) -> list[dict[str, str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileChoicesError(
            row, file, None, "the file is not UTF-8 text", "tệp không phải văn bản UTF-8"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out: list[dict[str, str]] = []
    try:
        for record in reader:
            if len(out) >= MAX_ROWS:
                raise FileChoicesError(
                    row,
                    file,
                    reader.line_num,
                    f"the file has more than {MAX_ROWS} choices",
                    f"tệp có hơn {MAX_ROWS} lựa chọn",
                )
            cells = {str(k).strip(): (v or "").strip() for k, v in record.items() if k}
            if any(len(v) > MAX_CELL for v in cells.values()):
                raise FileChoicesError(
                    row,
                    file,
                    reader.line_num,
                    f"a cell is longer than {MAX_CELL} characters",
                    f"có ô dài hơn {MAX_CELL} ký tự",
                )
            if any(cells.values()):
                out.append({**cells, "__line": str(reader.line_num)})
    except csv.Error as error:
        raise FileChoicesError(
            row, file, reader.line_num, f"not a CSV file: {error}", f"không phải tệp CSV: {error}"
        ) from None
    return out


def inline_file_choices(
    survey: list[dict[str, Any]],
    choices: list[dict[str, Any]],
    attachments: dict[str, bytes],
) -> list[Attachment]:
    """Turn each question choosing from an attached CSV into a ``select_one``/``select_multiple``
    of a new list holding the file's rows (``survey`` and ``choices`` are changed in place);
    what each file gave, files no question uses included. ``FileChoicesError`` names the
    survey row (counted from 2, as the definition's rows are) of a question whose file is
    missing or cannot be read."""
    taken = {str(c.get("list_name", "")) for c in choices}
    made: dict[str, Attachment] = {}
    for number, question in enumerate(survey, start=2):
        match = _FROM_FILE.match(" ".join(str(question.get("type", "")).split()))
        if not match:
            continue
        kind, file = match.group(1).lower(), match.group(2)
        if file not in attachments:
            raise FileChoicesError(
                number,
                file,
                None,
                f"attach the file '{file}' with the form",
                f"hãy tải tệp '{file}' lên cùng biểu mẫu",
            )
        params = _parameters(str(question.get("parameters", "")))
        value_column = params.pop("value", "name")
        label_column = params.pop("label", "label")
        if file not in made:
            rows = _rows(file, number, attachments[file])
            list_name = _list_name(file, taken)
            taken.add(list_name)
            seen: set[str] = set()
            for record in rows:
                line = int(record.pop("__line"))
                name = record.get(value_column, "")
                labels = {
                    (k if k != label_column else "label"): v
                    for k, v in record.items()
                    if k == label_column or k.startswith(f"{label_column}::")
                }
                if label_column != "label":
                    labels = {
                        k.replace(f"{label_column}::", "label::", 1): v for k, v in labels.items()
                    }
                if not name or not any(labels.values()):
                    raise FileChoicesError(
                        number,
                        file,
                        line,
                        f"every row needs a '{value_column}' and a '{label_column}'",
                        f"mỗi dòng cần cột '{value_column}' và cột '{label_column}'",
                    )
                if name in seen:
                    raise FileChoicesError(
                        number,
                        file,
                        line,
                        f"the choice '{name}' is there twice",
                        f"lựa chọn '{name}' có hai lần",
                    )
                seen.add(name)
                others = {
                    k: v
                    for k, v in record.items()
                    if k not in (value_column, label_column, "name", "label", "list_name")
                    and not k.startswith((f"{label_column}::", "label::"))
                    and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)
                }
                choices.append({"list_name": list_name, "name": name, **labels, **others})
            data = attachments[file]
            made[file] = Attachment(
                file, len(data), hashlib.sha256(data).hexdigest(), list_name, len(rows)
            )
        base = "select_one" if kind == "select_one_from_file" else "select_multiple"
        question["type"] = f"{base} {made[file].list_name}"
        rest = " ".join(f"{k}={v}" for k, v in params.items())
        if rest:
            question["parameters"] = rest
        else:
            question.pop("parameters", None)
    unused = [
        Attachment(name, len(data), hashlib.sha256(data).hexdigest(), None, 0)
        for name, data in attachments.items()
        if name not in made
    ]
    return [*made.values(), *unused]
