"""CSV cells a spreadsheet will not run: text starting with =, +, -, @ (or tab/CR) is a formula to Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a candidate's name). Such cells get a leading
apostrophe, which spreadsheets show as plain text (OWASP's CSV injection advice)."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: list[object]) -> list[object]:
    return [safe_cell(v) for v in values]
