"""A report as a file: CSV and XLSX, written with the standard library (docs/BACKOFFICE.md,
"Reports").

A table is a header and rows of cells; a cell is an ``int`` (a number: rials, a count) or a
``str`` (text: a month, a date, an id, a name).

- **CSV**: UTF-8 with a byte-order mark (so Excel reads Persian), ``\\r\\n`` line ends. A text
  cell that a spreadsheet would take for a formula (it starts with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return) is written with a leading ``'`` (CSV injection); a number is
  written as its digits and never touched, so a figure reads back as the same integer.
- **XLSX**: the smallest SpreadsheetML workbook (``[Content_Types].xml``, the workbook, its
  relationships, one worksheet per table, a style sheet with a bold header), sheets right to
  left. Numbers are numeric cells (``<c><v>``), text is an inline string (``t="inlineStr"``),
  never a formula, so nothing needs neutralising; characters XML 1.0 cannot carry are
  dropped.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

Cell = int | str

#: What a spreadsheet reads as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What XML 1.0 cannot hold in a document (C0 controls but tab, newline, return; lone surrogates;
#: U+FFFE and U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Table:
    #: The sheet's name in a workbook (at most 31 characters, none of ``[]:*?/\``).
    name: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def neutralised(cell: Cell) -> Cell:
    """A text cell a spreadsheet would run as a formula, made inert with a leading ``'``."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_bytes(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralised(c) for c in table.header])
    for row in table.rows:
        writer.writerow([neutralised(c) for c in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _column(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _cell(ref: str, value: Cell, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"a cell is an int or a str, not {value!r}")
    if isinstance(value, int):
        return f'<c r="{ref}"{s}><v>{value}</v></c>'
    text = escape(_NOT_XML.sub("", value))
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _sheet(table: Table) -> str:
    rows: list[str] = []
    for number, (row, style) in enumerate(
        [(table.header, 1)] + [(r, 0) for r in table.rows], start=1
    ):
        cells = "".join(_cell(f"{_column(i)}{number}", value, style) for i, value in enumerate(row))
        rows.append(f'<row r="{number}">{cells}</row>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetViews><sheetView workbookViewId="0" rightToLeft="1"/></sheetViews>'
        f"<sheetData>{''.join(rows)}</sheetData></worksheet>"
    )


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Vazirmatn"/></font>'
    '<font><b/><sz val="11"/><name val="Vazirmatn"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)

_MAIN = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def xlsx_bytes(tables: Iterable[Table]) -> bytes:
    """A workbook with one sheet per table, in order."""
    tables = list(tables)
    if not tables:
        raise ValueError("a workbook needs at least one sheet")
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
        for i in range(1, len(tables) + 1)
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PACKAGE}">'
        f'<Relationship Id="rId1" Type="{_MAIN}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    sheets = "".join(
        f'<sheet name={quoteattr(_sheet_name(t.name))} sheetId="{i}" r:id="rId{i}"/>'
        for i, t in enumerate(tables, start=1)
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'xmlns:r="{_MAIN}">'
        f"<sheets>{sheets}</sheets></workbook>"
    )
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PACKAGE}">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{_MAIN}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(tables) + 1)
        )
        + f'<Relationship Id="rId{len(tables) + 1}" Type="{_MAIN}/styles" Target="styles.xml"/>'
        "</Relationships>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", content_types)
        book.writestr("_rels/.rels", root_rels)
        book.writestr("xl/workbook.xml", workbook)
        book.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        book.writestr("xl/styles.xml", _STYLES)
        for i, table in enumerate(tables, start=1):
            book.writestr(f"xl/worksheets/sheet{i}.xml", _sheet(table))
    return out.getvalue()


def _sheet_name(name: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", _NOT_XML.sub("", name)).strip() or "Sheet"
    return cleaned[:31]
