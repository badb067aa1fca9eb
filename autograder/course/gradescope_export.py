"""Gradescope's "Export Submissions" zip as a batch's input: a folder per submission
(``submission_<id>/``, the files the student handed in) beside ``submission_metadata.yml``,
which says who handed each in and when::

    submission_281947:
      :submitters:
      - :name: Jane Doe
        :sid: 's0007'
        :email: jdoe@example.edu
      :created_at: 2026-10-02 23:12:07.052134000 -04:00
      :score: 10.0
      :history: [...]

(keys are Ruby symbols, hence the colons). The file comes from outside the grader: it is read
with a size bound and YAML's safe loader, and every field is checked before it is used.
"""
from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..results import RosterEntry
from ..submission import EXPORT_METADATA as METADATA
from .late_policy import read_time

MAX_METADATA_BYTES = 64 << 20


class ExportError(ValueError):
    """The export cannot be read: the message names the file and the entry."""


@dataclass(frozen=True)
class Exported:
    """One submission of the export: its folder's name, who handed it in, and when."""
    folder: str
    submitters: tuple[RosterEntry, ...]
    created_at: dt.datetime


def export_root(path: Path) -> Path | None:
    """The folder holding ``submission_metadata.yml`` when ``path`` is an unpacked export (the
    export's own folder, or the folder it was unpacked into), else None."""
    if not path.is_dir():
        return None
    if (path / METADATA).is_file():
        return path
    inner = [q for q in path.iterdir() if q.is_dir() and (q / METADATA).is_file()]
    return inner[0] if len(inner) == 1 else None


def is_export_zip(path: Path) -> bool:
    """Whether ``path`` is a zip with a ``submission_metadata.yml`` (at most one folder down)."""
    if path.suffix != ".zip" or not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/")[-1] == METADATA and n.count("/") <= 1 for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def unpack(path: Path, dest: Path) -> Path:
    """Unpack an export zip into ``dest`` (with the bounds and checks of every zip the grader
    opens) and return the folder holding its metadata; the same zip is unpacked once."""
    from .. import submission
    done, digest = dest / ".unpacked", submission.fingerprint(path)
    if not done.is_file() or done.read_text() != digest:
        import shutil
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        submission.safe_unzip(path, dest)
        done.write_text(digest)
    root = export_root(dest)
    if root is None:
        raise ExportError(f"{path}: no {METADATA} in the zip")
    return root


def _text(value: object, where: str, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ExportError(f"{where}: {key} is {type(value).__name__}, expected text")
    return str(value).strip()


def read_export(root: Path) -> dict[str, Exported]:
    """{submission folder name: Exported} from ``root/submission_metadata.yml``."""
    import yaml
    path = root / METADATA
    try:
        size = path.stat().st_size
        if size > MAX_METADATA_BYTES:
            raise ExportError(f"{path}: {size >> 20} MiB is more than an export's metadata holds")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as e:
        raise ExportError(f"{path}: cannot read it: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None
    if not isinstance(data, dict):
        raise ExportError(f"{path}: expected one entry per submission folder, got {type(data).__name__}")
    found = {}
    for folder, entry in data.items():
        where = f"{path}: {str(folder)[:100]}"
        if not isinstance(folder, str) or "/" in folder or folder in (".", ".."):
            raise ExportError(f"{where}: not a submission folder's name")
        if not isinstance(entry, dict):
            raise ExportError(f"{where}: expected :submitters: and :created_at:, got {type(entry).__name__}")
        people = entry.get(":submitters")
        if not isinstance(people, list) or not people:
            raise ExportError(f"{where}: no :submitters:")
        submitters = []
        for p in people:
            if not isinstance(p, dict):
                raise ExportError(f"{where}: a submitter is {type(p).__name__}, expected :name:, :sid:, :email:")
            submitters.append(RosterEntry(_text(p.get(":sid"), where, ":sid"), _text(p.get(":name"), where, ":name"),
                                          _text(p.get(":email"), where, ":email")))
        created = entry.get(":created_at")
        try:
            when = read_time(created, dt.UTC)
        except ValueError as e:
            raise ExportError(f"{where}: :created_at: {created!r} is not a date and time ({e})") from None
        found[folder] = Exported(folder, tuple(submitters), when)
    return found
