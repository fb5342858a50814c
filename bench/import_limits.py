"""What an XLSX zip bomb costs the register import now, against an honest file in the same run.

The bomb is the security review's: a few megabytes of XLSX whose sheet unpacks to 980 MB of
rows. It is refused from the zip's directory (schemas/ziplimits.py) before openpyxl opens it.
Baselines, measured in the same run, each in a fresh Python process (peak memory is the
process's ru_maxrss; "at start" is that figure once the modules are imported):

- an honest 5,000-row register (the most the import takes), read and checked;
- the same kind of bomb at 10 MB of sheet XML, read as the import read files before the guard
  (openpyxl's read-only rows, every one kept): the cost the guard spares, per MB.

    .venv/bin/python bench/import_limits.py [SHEET_MB]
"""

from __future__ import annotations

import io
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns='
    b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row><c t="inlineStr"><is><t>village</t></is></c>'
    b'<c t="inlineStr"><is><t>head_name</t></is></c></row>'
)
ROW = (
    '<row><c t="inlineStr"><is><t>Thôn Đông</t></is></c>'
    '<c t="inlineStr"><is><t>Nguyễn Văn An</t></is></c></row>'
).encode()
TAIL = b"</sheetData></worksheet>"
SMALL = 10  # MB of sheet XML for the unguarded baseline


def honest_register(rows: int) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["village", "head_name", "address"])
    for i in range(rows):
        book.active.append([("Thôn Đông", "Thôn Tây")[i % 2], f"Nguyễn Văn {i}", f"Số {i}"])
    raw = io.BytesIO()
    book.save(raw)
    return raw.getvalue()


def _raw_deflate(data: bytes, final: bool) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def bomb(sheet_mb: int) -> bytes:
    """An XLSX whose first sheet is ``sheet_mb`` MB of rows, built in about a second: one MB of
    rows deflated once, its bytes repeated (a full flush makes each copy stand alone), written
    into a zip by hand."""
    chunk = ROW * (MB // len(ROW))
    block = _raw_deflate(chunk, final=False)
    sheet = _raw_deflate(HEAD, False) + block * sheet_mb + _raw_deflate(TAIL, True)
    crc = zlib.crc32(HEAD)
    for _ in range(sheet_mb):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(TAIL, crc)
    size = len(HEAD) + len(chunk) * sheet_mb + len(TAIL)
    members = []
    with zipfile.ZipFile(io.BytesIO(honest_register(1))) as honest:
        for info in honest.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                members.append((info.filename, sheet, crc, size))
            else:
                data = honest.read(info)
                members.append(
                    (info.filename, _raw_deflate(data, True), zlib.crc32(data), len(data))
                )
    out, directory = io.BytesIO(), io.BytesIO()
    for name, packed, crc, size in members:
        offset = out.tell()
        fields = (20, 0, 8, 0, 0x21, crc, len(packed), size, len(name.encode()), 0)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name.encode() + packed)
        directory.write(
            struct.pack("<IH", 0x02014B50, 20)
            + struct.pack("<HHHHHIIIHHHHHII", *fields[:-1], 0, 0, 0, 0, 0, offset)
            + name.encode()
        )
    start = out.tell()
    out.write(directory.getvalue())
    out.write(
        struct.pack(
            "<IHHHHIIH",
            0x06054B50,
            0,
            0,
            len(members),
            len(members),
            len(directory.getvalue()),
            start,
            0,
        )
    )
    return out.getvalue()


# -- one case, in its own process --------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, path: str) -> dict[str, object]:
    from openpyxl import load_workbook

    from server.domain import household_import, migrations
    from server.domain.db import connect, write_transaction
    from server.domain.errors import Refused
    from server.domain.register import add_commune, add_village

    raw = Path(path).read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        db = connect(Path(folder) / "gocua.db")
        migrations.apply(db)
        with write_transaction(db):  # no seed_demo: its password hash would set the peak
            commune = add_commune(db, "99999", "Xã Minh Họa", "99", "Tỉnh Minh Họa")["id"]
            for name in ("Thôn Đông", "Thôn Tây"):
                add_village(db, commune, name)
        at_start = _peak_mb()
        start = time.perf_counter()
        outcome = "read"
        if case == "unguarded":  # household_import._read_xlsx before the guard
            book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
            rows = [
                [household_import._cell(v) for v in row]
                for row in book.worksheets[0].iter_rows(values_only=True)
            ]
            book.close()
            outcome = f"{len(rows):,} rows read"
        else:
            try:
                rows = household_import.check_rows(
                    db, commune, household_import.read_table("x.xlsx", raw)
                )
                outcome = f"{len(rows):,} rows checked"
            except Refused as refused:
                outcome = f"refused: {refused.code}"
        seconds = time.perf_counter() - start
        db.close()
    return {"seconds": seconds, "peak": _peak_mb(), "at_start": at_start, "outcome": outcome}


def measure(case: str, path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--case", case, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    from schemas.ziplimits import REGISTER

    bomb_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 980
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "honest": Path(folder) / "honest.xlsx",
            "bomb": Path(folder) / "bomb.xlsx",
            "small bomb": Path(folder) / "small.xlsx",
        }
        files["honest"].write_bytes(honest_register(5000))
        started = time.perf_counter()
        files["bomb"].write_bytes(bomb(bomb_mb))
        built = time.perf_counter() - started
        files["small bomb"].write_bytes(bomb(SMALL))
        results = {
            "honest": measure("guarded", files["honest"]),
            "bomb": measure("guarded", files["bomb"]),
            "small bomb": measure("unguarded", files["small bomb"]),
        }
        sizes = {name: path.stat().st_size / MB for name, path in files.items()}

    def line(title: str, name: str) -> str:
        r = results[name]
        return (
            f"{title:<44} {r['seconds']:7.2f} s  peak {r['peak']:6.0f} MB"
            f" (at start {r['at_start']:.0f})  {r['outcome']}"
        )

    print(
        f"limits (schemas/ziplimits.py REGISTER): {REGISTER.total // MB} MB unpacked,"
        f" {REGISTER.member // MB} MB a part, {REGISTER.members} parts,"
        f" {REGISTER.ratio}:1 packing"
    )
    print(line(f"honest register, 5,000 rows ({sizes['honest']:.2f} MB)", "honest"))
    print(line(f"bomb, {bomb_mb} MB of sheet ({sizes['bomb']:.1f} MB file)", "bomb"))
    print(line(f"bomb, {SMALL} MB of sheet, read unguarded", "small bomb"))
    small = results["small bomb"]
    per_mb = (small["peak"] - small["at_start"]) / SMALL
    print(
        f"unguarded, the {bomb_mb} MB bomb would take"
        f" ~{small['seconds'] * bomb_mb / SMALL:,.0f} s and ~{per_mb * bomb_mb / 1024:,.1f} GB"
        f" more (scaled from {SMALL} MB); the bomb was built in {built:.1f} s"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        print(json.dumps(run_case(sys.argv[2], sys.argv[3])))
    else:
        main()
