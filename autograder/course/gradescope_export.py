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
with a size bound and YAML's safe loader, and each field used (folder names, submitters' ids,
names and emails, ``:created_at``) is checked for its type first. It says who handed in what and
when, so only the metadata at the top of an export the instructor gives is read
(``submission.given_exports``), never one inside a submission; each submission folder is
unpacked with a submission's limits (``unpack``).
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..results import RosterEntry
from ..submission import EXPORT_METADATA as METADATA
from .late_policy import read_time

MAX_METADATA_BYTES = 64 << 20
# An export's own bounds; each submission folder in it has a submission's (``submission.extract``).
MAX_EXPORT_MEMBERS = 1_000_000
MAX_EXPORT_BYTES = 64 << 30


class ExportError(ValueError):
    """The export cannot be read: the message names the file and the entry."""


@dataclass(frozen=True)
class Exported:
    """One submission of the export: its folder's name, who handed it in, and when."""
    folder: str
    submitters: tuple[RosterEntry, ...]
    created_at: dt.datetime


@dataclass(frozen=True)
class Unpacked:
    """An export zip unpacked: the folder holding its metadata, and the submission folders that
    were not unpacked with why (over a submission's limits, a name no file system takes): each
    is one error row of the batch, never the batch's end."""
    root: Path
    problems: dict[Path, str]


def unpack(path: Path, dest: Path) -> Unpacked:
    """Unpack an export zip (``submission.export_zip_root``) into ``dest``, each submission
    folder with the limits of one submission; the same zip is unpacked once. Raises
    ExportError when the zip is not an export or is over an export's own limits."""
    from .. import submission
    prefix = submission.export_zip_root(path)
    if prefix is None:
        raise ExportError(f"{path}: not Gradescope's export (no {METADATA} beside the submission folders)")
    root = dest / prefix if prefix else dest
    done, digest = dest / ".unpacked", submission.fingerprint(path)
    try:  # our own record, beside what the zip held (nothing of the zip's is written at dest's top)
        state = json.loads(done.read_text())
        if state["digest"] == digest:
            return Unpacked(root, {root / k: str(v) for k, v in state["problems"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    shutil.rmtree(dest, ignore_errors=True)
    root.mkdir(parents=True)
    problems: dict[str, str] = {}
    strip = len(prefix.split("/")) if prefix else 0
    with submission.zip_problems(path), zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        if len(members) > MAX_EXPORT_MEMBERS or sum(m.file_size for m in members) > MAX_EXPORT_BYTES:
            raise ExportError(f"{path}: {len(members)} entries, {sum(m.file_size for m in members) >> 20} MiB "
                              f"unpacked: more than an export holds here (at most {MAX_EXPORT_MEMBERS} entries and "
                              f"{MAX_EXPORT_BYTES >> 30} GiB)")
        folders: dict[str, list[zipfile.ZipInfo]] = {}
        for m in members:
            name = m.filename.replace("\\", "/")
            if prefix and not name.startswith(prefix + "/"):
                continue
            parts = name.split("/")[strip:]
            if len(parts) == 1 and parts[0] == METADATA:
                submission.extract(zf, [m], root, strip)
            elif len(parts) > 1 and parts[0]:  # anything else at the top is not a submission
                folders.setdefault(parts[0], []).append(m)
        written = 0  # bytes, counted as written: the sizes a zip claims can lie
        for folder, inside in sorted(folders.items()):
            if submission.is_junk([folder]):
                continue
            if written > MAX_EXPORT_BYTES:
                raise ExportError(f"{path}: expands beyond {MAX_EXPORT_BYTES >> 30} GiB: more than an export holds "
                                  "here")
            safe = submission.safe_name(folder)
            try:
                if safe != folder:
                    raise submission.SubmissionProblem(f"the export's folder {folder[:100]!r} has a name no file "
                                                       "system takes")
                with submission.zip_problems(path):
                    written += submission.extract(zf, inside, root / folder, strip + 1)
            except submission.SubmissionProblem as e:
                problems[safe] = str(e)
                shutil.rmtree(root / safe, ignore_errors=True)
                (root / safe).mkdir()  # listed as the export lists it, graded as an error
    if not (root / METADATA).is_file():
        raise ExportError(f"{path}: no {METADATA} in the zip")
    done.write_text(json.dumps({"digest": digest, "problems": problems}))
    return Unpacked(root, {root / k: v for k, v in problems.items()})


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
