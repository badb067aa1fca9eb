"""Find submissions and open them: a notebook or script, or (for assignments that collect
output files) a folder or zip holding one notebook plus those files.

Zips are unpacked by the grader itself, refusing absolute paths, ``..``, links, devices, and
archives that expand beyond a size or member limit. Nothing from a submission is executed here.
"""
import collections
import contextlib
import os
import re
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
    main: Path | None = None   # the notebook or script to load
    files: dict = field(default_factory=dict)  # declared output files found: name -> path
    problem: str = ""          # why it cannot be graded, if it cannot
    _tmp: str | None = None

    def close(self):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def find(paths, folders=False):
    """Expand arguments into submission paths, sorted, without duplicates. With ``folders``
    (an assignment that collects files), each submission is a folder or zip; a folder holding
    a notebook directly is itself one submission. Gradescope's export (``given_exports``): a
    folder per submission."""
    found = []
    exports = given_exports(paths)
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"no such submission file or folder: {p}")
        listed = sorted(q for q in p.iterdir() if not is_junk([q.name])) if p.is_dir() else []
        root = exports.get(p)
        if isinstance(root, Path):  # an export zip is unpacked first (course.gradescope_export.unpack)
            found += [q for q in sorted(root.iterdir()) if q.is_dir() and not is_junk([q.name])]
        elif not folders:
            found += [q for q in listed if q.suffix in CODE_SUFFIXES + (".zip",) and q.is_file()] \
                if p.is_dir() else [p]
        elif p.is_dir() and not any(q.suffix in CODE_SUFFIXES for q in listed if q.is_file()):
            found += [q for q in listed if q.is_dir() or q.suffix == ".zip"]
        else:
            found.append(p)
    seen, unique = set(), []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


JUNK_FOLDERS = ("__MACOSX", ".ipynb_checkpoints")  # macOS resource forks, Jupyter's autosaves
EXPORT_METADATA = "submission_metadata.yml"  # beside the folders of Gradescope's export (course.gradescope_export)


def _export_shaped(names: list[str]) -> bool:
    """Whether the entries at the top of a folder (names, folders ending in "/") are those of
    Gradescope's export: its metadata beside submission folders, no notebook or script of its
    own (a student's folder holds its notebook at the top)."""
    return EXPORT_METADATA in names and not any(n.endswith(CODE_SUFFIXES + (".zip",)) for n in names)


def export_root(path: Path) -> Path | None:
    """The folder holding the metadata when ``path`` is a folder of Gradescope's export's shape
    (or holds only one such folder, as an export unzipped into a folder of its own), else None."""
    if not path.is_dir() or path.is_symlink():
        return None
    entries = [q for q in path.iterdir() if not is_junk([q.name])]
    names = [q.name + "/" if q.is_dir() else q.name for q in entries]
    if _export_shaped(names) and (path / EXPORT_METADATA).is_file() and not (path / EXPORT_METADATA).is_symlink():
        return path
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        inner = entries[0]
        return inner if export_root(inner) == inner else None
    return None


def export_zip_root(path: Path) -> str | None:
    """For a zip of Gradescope's export's shape: the folder inside it holding the metadata ("" at
    its top, or its one top folder); None for any other file."""
    if path.suffix != ".zip" or not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as z:
            names = [n.replace("\\", "/") for n in z.namelist()]
    except (zipfile.BadZipFile, OSError, ValueError):
        return None

    def top(prefix: str) -> list[str]:  # the entries right below prefix, folders ending in "/"
        below = {n[len(prefix):].split("/")[0] + ("/" if "/" in n[len(prefix):] else "")
                 for n in names if n.startswith(prefix) and n != prefix}
        return sorted(t for t in below if t.strip("/") and not is_junk([t.rstrip("/")]))

    if _export_shaped(top("")):
        return ""
    outer = top("")
    if len(outer) == 1 and outer[0].endswith("/") and _export_shaped(top(outer[0])):
        return outer[0].rstrip("/")
    return None


def given_exports(paths) -> dict[Path, Path | str]:
    """Which paths given on the command line are Gradescope exports: for a folder, the folder
    holding its ``submission_metadata.yml`` (``export_root``); for a zip, that folder's path in
    the zip (``export_zip_root``). Only when every path given is one: the metadata says who
    handed in each submission and when, so only an export the instructor gives is read as one.
    A student's folder or zip shaped like an export, among other submissions, is a submission,
    and nothing inside a path given (a submission's own metadata file) is ever read as one."""
    roots: dict[Path, Path | str | None] = {}
    for p in map(Path, paths):
        roots[p] = export_zip_root(p) if p.suffix == ".zip" else export_root(p)
    if not roots or any(r is None for r in roots.values()):
        return {}
    return {p: r for p, r in roots.items() if r is not None}


def is_junk(parts) -> bool:
    """A file of a zip or folder that is not the student's work: macOS's ``__MACOSX/`` and
    ``._name`` resource forks, ``.DS_Store``, Jupyter's checkpoints."""
    parts = list(parts)
    return (any(p in JUNK_FOLDERS for p in parts) or (bool(parts) and (parts[-1].startswith("._")
                                                                       or parts[-1] == ".DS_Store")))


class DamagedZip(SubmissionProblem):
    """The zip cannot be read: corrupt, encrypted, an unknown compression, names that clash."""

    def __init__(self, why: str):
        super().__init__(f"the zip is damaged: {why}")


def _member_parts(m: zipfile.ZipInfo) -> list[str] | None:
    """The member's path inside the submission, as parts; None for one to skip (a folder, ``.``,
    macOS's junk). Refuses a path that leaves the folder, or a link or device."""
    raw = m.filename.replace("\\", "/")
    name = PurePosixPath(raw)
    if name.is_absolute() or ".." in name.parts or raw[1:2] == ":":
        raise SubmissionProblem(f"zip entry {m.filename[:200]!r} points outside the submission")
    file_type = stat.S_IFMT(m.external_attr >> 16)
    # No type bits (ZipFile.writestr, Windows tools) is a regular file; a folder is skipped.
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise SubmissionProblem(f"zip entry {m.filename[:200]!r} is a link or special file")
    parts = [p for p in name.parts if p not in ("", ".")]
    if m.is_dir() or file_type == stat.S_IFDIR or not parts or is_junk(parts):
        return None
    if any(len(p.encode()) > 255 or any(ord(c) < 32 for c in p) for p in parts) or len(raw) > 1024:
        raise DamagedZip(f"entry {m.filename[:80]!r}... has a name no file system takes")
    return parts


def safe_unzip(archive, dest):
    """Extract the regular files of ``archive`` under ``dest``; refuse anything that could
    escape, and turn every way a zip can be broken into ``SubmissionProblem`` ("the zip is
    damaged (...)"): nothing a zip holds raises anything else. The bytes written are counted,
    whatever sizes the zip claims."""
    with zip_problems(archive):
        with zipfile.ZipFile(archive) as zf:
            extract(zf, zf.infolist(), dest)


@contextlib.contextmanager
def zip_problems(archive):
    """Every way reading ``archive`` can fail, as ``SubmissionProblem``."""
    try:
        yield
    except SubmissionProblem:
        raise
    except zipfile.BadZipFile as e:
        if not zipfile.is_zipfile(archive):
            raise SubmissionProblem(f"not a readable zip file ({e})") from None
        raise DamagedZip(str(e)) from None
    except (RuntimeError, NotImplementedError) as e:  # encrypted, or a compression zipfile lacks
        raise DamagedZip(f"{e} (encrypted, or made with a method other than deflate)") from None
    except OSError as e:
        raise DamagedZip(e.strerror or str(e)) from None
    except Exception as e:  # noqa: BLE001 - zlib.error, lzma and bz2 errors, EOFError: all a broken zip
        raise DamagedZip(f"{type(e).__name__}: {e}") from None


def extract(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], dest, strip: int = 0) -> int:
    """Extract ``members`` of ``zf`` (one submission's: the limits are per submission) under
    ``dest``, the first ``strip`` parts of each name left out (the folder they share in a
    Gradescope export); the bytes written. Raises SubmissionProblem (``safe_unzip``); call it in
    ``zip_problems``."""
    Path(dest).mkdir(parents=True, exist_ok=True)
    if len(members) > MAX_MEMBERS:
        raise SubmissionProblem(f"zip has {len(members)} entries (limit {MAX_MEMBERS})")
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise SubmissionProblem(f"zip expands beyond {MAX_UNPACKED_BYTES >> 20} MiB")
    left = MAX_UNPACKED_BYTES
    for m in members:
        parts = _member_parts(m)
        if parts is None or not parts[strip:]:
            continue
        parts = parts[strip:]
        folder = Path(dest)
        for part in parts[:-1]:
            folder = folder / part
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                raise DamagedZip(f"{'/'.join(parts)[:200]!r} is both a file and a folder")
            folder.mkdir(exist_ok=True)
        target = folder / parts[-1]
        if os.path.lexists(target):
            raise DamagedZip(f"{'/'.join(parts)[:200]!r} is in the zip twice, or is also a folder")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with zf.open(m) as src, os.fdopen(fd, "wb") as out:
            while chunk := src.read(1 << 20):
                left -= len(chunk)
                if left < 0:
                    raise SubmissionProblem(f"zip expands beyond {MAX_UNPACKED_BYTES >> 20} MiB")
                out.write(chunk)
    return MAX_UNPACKED_BYTES - left


def _within_size(path):
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SubmissionProblem(f"{path.name} is {size / 2**20:.0f} MiB; files over {MAX_FILE_BYTES >> 20} MiB "
                                "are not graded")
    return path


def name_of(path):
    """The name a submission file suggests: its stem (``alice.ipynb``: ``alice``), or a
    folder's name. What it is graded as is ``names_for``'s choice."""
    path = Path(path)
    return path.stem if path.suffix in CODE_SUFFIXES + (".zip",) else path.name


MAX_NAME_CHARS = 100


def safe_name(text: str) -> str:
    """``text`` as one folder name: no separators or control characters, not ``.`` or
    ``..`` or hidden (a leading dot), at most MAX_NAME_CHARS characters."""
    name = re.sub(r"[\x00-\x1f\x7f-\x9f/\\]", "_", text).strip()
    if not name or name.startswith("."):
        name = "_" + name
    return name[:MAX_NAME_CHARS]


def names_for(paths) -> dict:
    """Each submission's name: its output folder and its row in grades.csv. The stem made safe
    (``safe_name``); where two share one (``alice.py`` and ``alice.ipynb``), the whole file
    names; where those still clash, a number, in path order. The same paths always get the
    same names, whatever order they are listed in."""
    paths = sorted(map(Path, paths))
    names = {p: safe_name(name_of(p)) for p in paths}
    shared = collections.Counter(names.values())
    names = {p: safe_name(p.name) if shared[n] > 1 else n for p, n in names.items()}
    taken, out = set(), {}
    for p, n in names.items():
        unique, k = n, 2
        while unique in taken:
            unique, k = f"{n[:MAX_NAME_CHARS - 6]}-{k}", k + 1
        taken.add(unique)
        out[p] = unique
    return out


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


def open_submission(path, wanted_files=(), scratch=None, name=None):
    """A ``Submission`` ready to grade; ``problem`` is set instead of raising. A zip is
    unpacked in a new folder inside ``scratch`` (default: the system's temporary folder)."""
    path = Path(path)
    sub = Submission(name=name or safe_name(name_of(path)), path=path)
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
                            and not p.is_symlink() and not is_junk(p.relative_to(root).parts))
        notebooks = [p for p in candidates if p.suffix == ".ipynb"] or candidates
        if not notebooks:
            raise SubmissionProblem("no notebook (.ipynb) or script (.py) found in the submission")
        if len(notebooks) > 1:
            raise SubmissionProblem(f"several notebooks found ({', '.join(p.name for p in notebooks[:5])}); "
                                    "hand in exactly one")
        sub.main = _within_size(notebooks[0])
        for name in wanted_files:
            matches = [p for p in root.rglob(name) if p.is_file() and not p.is_symlink()
                       and not is_junk(p.relative_to(root).parts)]
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


@dataclass(frozen=True)
class Found:
    """A submission to grade: where it is, its name (``names_for``), the Gradescope export it
    is a folder of (``given_exports``: whose metadata says who handed it in and when), and why
    it cannot be graded, when that is known before it is opened (``problem``: it then gets an
    error row, and the rest of the batch is graded)."""
    path: Path
    name: str
    export: Path | None = None
    problem: str = ""


def select(assignment, paths, shard=None, problems=None) -> list[Found]:
    """The submissions under ``paths`` (see ``submission.find``) with their names, or, with
    ``shard`` = (K, N), those of shard K of N (``cluster.shard_of`` on each name; names are
    given over the whole batch first, so every shard agrees on them). ``problems``: {path: why}
    for submissions known to be ungradable (an export's upload over the limits). Raises
    NoSubmissions when there is no submission at all (an empty shard is no error)."""
    from . import cluster
    subs = find(paths, folders=bool(assignment.submission_files))
    if not subs:
        raise NoSubmissions(f"no submissions found in {', '.join(map(str, paths))}: "
                            f"looked for {looked_for(assignment)}")
    names = names_for(subs)
    roots = {r for r in given_exports(paths).values() if isinstance(r, Path)}
    problems = {Path(k): v for k, v in (problems or {}).items()}
    found = [Found(p, names[Path(p)], Path(p).parent if Path(p).parent in roots else None,
                   problems.get(Path(p), "")) for p in subs]
    if shard is not None:
        k, n = shard
        found = [f for f in found if cluster.shard_of(f.name, n) == k]
    return found


def renamed(found: list[Found]) -> list[str]:
    """What the terminal says of submissions graded under another name than their file's stem:
    a line per stem shared by several files, and one per name made safe."""
    by_stem = collections.defaultdict(list)
    for f in found:
        by_stem[name_of(f.path)].append(f)
    lines = []
    for stem, group in sorted(by_stem.items()):
        if len(group) > 1:
            lines.append(f"{' and '.join(repr(f.path.name) for f in group)} share the name {stem!r}: graded as "
                         f"{' and '.join(f.name for f in group)}")
        elif group[0].name != stem:
            lines.append(f"{group[0].path.name!r} is graded as {group[0].name}")
    return lines
