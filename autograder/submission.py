"""Find submissions and open them: a notebook or script, or (for assignments that collect
output files) a folder or zip holding one notebook plus those files.

Zips are unpacked by the grader itself, refusing absolute paths, ``..``, links, devices, and
archives that expand beyond a size or member limit. Nothing from a submission is executed here.
"""
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

CODE_SUFFIXES = (".ipynb", ".py")
MAX_UNPACKED_BYTES = 512 << 20
MAX_MEMBERS = 1000
MAX_FILE_BYTES = 32 << 20  # a notebook with plots is a few MiB; the MNIST model file is ~2 MiB


class SubmissionProblem(ValueError):
    """The submission cannot be graded as delivered (message says why)."""


@dataclass
class Submission:
    name: str
    path: Path                 # what was handed in: a file, a folder or a zip
    main: Path = None          # the notebook or script to load
    files: dict = field(default_factory=dict)  # declared output files found: name -> path
    problem: str = ""          # why it cannot be graded, if it cannot
    _tmp: str = None

    def close(self):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def find(paths, folders=False):
    """Expand arguments into submission paths, sorted, without duplicates. With ``folders``
    (an assignment that collects files), each submission is a folder or zip; a folder holding
    a notebook directly is itself one submission."""
    found = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"no such submission file or folder: {p}")
        if not folders:
            found += sorted(q for q in p.iterdir() if q.suffix in CODE_SUFFIXES + (".zip",) and q.is_file()) \
                if p.is_dir() else [p]
        elif p.is_dir() and not any(q.suffix in CODE_SUFFIXES for q in p.iterdir() if q.is_file()):
            found += sorted(q for q in p.iterdir() if q.is_dir() or q.suffix == ".zip")
        else:
            found.append(p)
    seen, unique = set(), []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def safe_unzip(archive, dest):
    """Extract regular files of ``archive`` under ``dest``; refuse anything that could escape."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise SubmissionProblem(f"not a readable zip file ({e})") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise SubmissionProblem(f"zip has {len(members)} entries (limit {MAX_MEMBERS})")
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise SubmissionProblem(f"zip expands beyond {MAX_UNPACKED_BYTES >> 20} MiB")
        for m in members:
            name = PurePosixPath(m.filename.replace("\\", "/"))
            mode = m.external_attr >> 16
            if name.is_absolute() or ".." in name.parts or (m.filename[1:2] == ":"):
                raise SubmissionProblem(f"zip entry {m.filename!r} points outside the submission")
            if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise SubmissionProblem(f"zip entry {m.filename!r} is a link or special file")
            if m.is_dir():
                continue
            target = Path(dest, *name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def _within_size(path):
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SubmissionProblem(f"{path.name} is {size / 2**20:.0f} MiB; files over {MAX_FILE_BYTES >> 20} MiB "
                                "are not graded")
    return path


def name_of(path):
    """The submission's name: its output folder and its row in grades.csv."""
    path = Path(path)
    return path.stem if path.suffix in CODE_SUFFIXES + (".zip",) else path.name


def fingerprint(path, *extra):
    """A digest of everything handed in (file, or every file of a folder) plus ``extra``:
    a batch that is run again skips submissions whose fingerprint is unchanged."""
    import hashlib
    h = hashlib.sha256()
    for part in extra:
        h.update(str(part).encode() + b"\0")
    path = Path(path)
    files = sorted(q for q in path.rglob("*") if q.is_file()) if path.is_dir() else [path]
    for q in files:
        h.update(str(q.relative_to(path) if path.is_dir() else q.name).encode() + b"\0")
        try:
            with open(q, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError as e:
            h.update(f"unreadable: {e}".encode())
    return h.hexdigest()


def open_submission(path, wanted_files=(), scratch=None):
    """A ``Submission`` ready to grade; ``problem`` is set instead of raising. A zip is
    unpacked in a new folder inside ``scratch`` (default: the system's temporary folder)."""
    path = Path(path)
    sub = Submission(name=name_of(path), path=path)
    try:
        if path.is_file() and path.suffix in CODE_SUFFIXES and not wanted_files:
            sub.main = _within_size(path)
            return sub
        if path.is_file() and path.suffix == ".zip":
            sub._tmp = tempfile.mkdtemp(prefix="unzip-" if scratch else "autograder-unzip-", dir=scratch)
            safe_unzip(path, sub._tmp)
            root = Path(sub._tmp)
        elif path.is_dir():
            root = path
        else:
            raise SubmissionProblem(f"expected a notebook, a folder or a zip, got {path.name}")
        candidates = sorted(p for p in root.rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file()
                            and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts)
        notebooks = [p for p in candidates if p.suffix == ".ipynb"] or candidates
        if not notebooks:
            raise SubmissionProblem("no notebook (.ipynb) or script (.py) found in the submission")
        if len(notebooks) > 1:
            raise SubmissionProblem(f"several notebooks found ({', '.join(p.name for p in notebooks[:5])}); "
                                    "hand in exactly one")
        sub.main = _within_size(notebooks[0])
        for name in wanted_files:
            matches = [p for p in root.rglob(name) if p.is_file() and not p.is_symlink()]
            if matches:
                sub.files[name] = _within_size(matches[0])
    except SubmissionProblem as e:
        sub.problem = str(e)
    return sub


class NoSubmissions(ValueError):
    """Nothing gradable was found where the grader was pointed (the message says what was
    looked for)."""


def looked_for(assignment):
    """What counts as a submission of ``assignment``, in words (for error messages)."""
    return ("folders (or .zip files) each holding one notebook" if assignment.submission_files
            else ".ipynb, .py and .zip files")


def select(assignment, paths, shard=None) -> list:
    """The submissions under ``paths`` (see ``submission.find``), or, with ``shard`` = (K, N),
    those of shard K of N (``cluster.shard_of`` on each submission's name). Raises
    NoSubmissions when there is no submission at all (an empty shard is no error)."""
    from . import cluster
    subs = find(paths, folders=bool(assignment.submission_files))
    if not subs:
        raise NoSubmissions(f"no submissions found in {', '.join(map(str, paths))}: "
                            f"looked for {looked_for(assignment)}")
    if shard is not None:
        k, n = shard
        subs = [p for p in subs if cluster.shard_of(name_of(p), n) == k]
    return subs
