"""How many XLSForms people already have does `gocua form check` take as they are?

    .venv/bin/python bench/xlsform_corpus.py FOLDER [FOLDER ...]

Runs the check (the same reading as `gocua form check`, no version given) over every .xls,
.xlsx and .xlsm under the folders, and prints each file's verdict, then how many passed, how
many of those with warnings, and the features that refused the others, most frequent first:
the list of what to support next.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from schemas.formcheck import Problem
from schemas.xlsform import WORKBOOK_SUFFIXES, XLSFormError, read_xlsform


def main(folders: list[str]) -> int:
    paths = sorted(
        path
        for folder in folders
        for path in Path(folder).rglob("*")
        if path.suffix.lower() in WORKBOOK_SUFFIXES and path.is_file()
    )
    refused: Counter[str] = Counter()
    passed = warned = 0
    for path in paths:
        warnings: list[Problem] = []
        try:
            read_xlsform(path, warnings=warnings)
        except XLSFormError as error:
            feature = error.feature
            if "'" in feature:  # type 'select_one_external c1' → type 'select_one_external'
                feature = f"{feature.split(' ')[0]} '{_first(feature)}'"
            refused[feature] += 1
            print(f"refused  {path}: {error.en}")
            continue
        passed += 1
        warned += bool(warnings)
        print(f"ok       {path}" + (f" ({len(warnings)} warnings)" if warnings else ""))
    total = len(paths)
    share = f"{100 * passed / total:.0f}%" if total else "-"
    print(f"\n{passed} of {total} pass ({share}); {warned} of them with warnings")
    for feature, count in refused.most_common():
        print(f"{count:5}  {feature}")
    return 0


def _first(feature: str) -> str:
    """``type 'select_one_external c1'`` → ``select_one_external``: the kind, not the instance."""
    return feature.split("'")[1].split()[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["tests/xlsforms"]))
