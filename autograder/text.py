"""Text a submission had a hand in, made safe to show: on a terminal, in a page, in Markdown.

Student code writes exception messages, prints output, names its classes and its files: any of
that can hold terminal escape codes, bidirectional-override characters, Markdown that draws a
fake "All tests passed", or megabytes. Whatever is shown goes through here first: control
characters removed, length capped with "(cut)", Markdown made inert.
"""
import re

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
