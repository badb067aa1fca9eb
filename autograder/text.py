"""Text a submission had a hand in, made safe to show: on a terminal, in a page, in Markdown, in
a spreadsheet.

Student code writes exception messages, prints output, names its classes and its files: any of
that can hold terminal escape codes, bidirectional-override characters, Markdown that draws a
fake "All tests passed", or megabytes. Whatever is shown goes through here first: control
characters removed, length capped with "(cut)", Markdown made inert.
"""
import re
from collections.abc import Iterable, Sequence

CUT = " (cut)"
# C0 and C1 control characters and DEL, but tab and newline, which ``clean`` may keep; and the
# format characters that reorder or hide text (bidirectional overrides, zero-width marks).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_NEWLINES = re.compile("[\t\n]")


def cap(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying so."""
    return text if len(text) <= limit else text[: max(0, limit - len(CUT))] + CUT


def clean(text: object, limit: int = 8000, newlines: bool = True) -> str:
    """Printable text: control and reordering characters removed (tabs and newlines kept with
    ``newlines``, else each becomes a space), at most ``limit`` characters."""
    text = text if isinstance(text, str) else str(text)
    if len(text) > 4 * limit:  # cheap first: a huge text is cut before the expressions run
        text = text[: 4 * limit]
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not newlines:
        text = _NEWLINES.sub(" ", text)
    return cap(text, limit)


def line(text: object, limit: int = 300) -> str:
    """One printable line (for a terminal or a table cell)."""
    return clean(text, limit, newlines=False)


def markdown_code_block(text: str) -> str:
    """``text`` in a fenced code block whose fence is longer than any run of backticks in it,
    so nothing inside can close it."""
    longest = max((len(m) for m in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP's "CSV Injection");
# the full-width forms too, which some spreadsheets fold into the ASCII ones.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
SPREADSHEET_CELL_CHARS = 32000  # a spreadsheet cell holds at most 32,767


def spreadsheet_cell(value: object) -> object:
    """A CSV cell a person can open in a spreadsheet: numbers as they are; text without control
    characters (tabs and line ends become spaces) and, where it would start a formula (``=``,
    ``+``, ``-``, ``@``, tab, carriage return), prefixed with a single quote, which spreadsheets
    show as text. Text that is a plain number ("-5.2") is a number, not a formula: kept."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    cell = clean(value, SPREADSHEET_CELL_CHARS, newlines=False)
    start = cell.lstrip(" ")
    if start.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(start):
        return "'" + cell
    return cell


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """``rows`` as CSV (the ``csv`` module's dialect: CRLF line ends, quotes where needed), every
    cell through ``spreadsheet_cell``: what the grader writes for people and for an LMS."""
    import csv
    import io
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow([spreadsheet_cell(c) for c in row])
    return buf.getvalue()
