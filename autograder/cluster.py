"""One batch across many machines: which submissions a shard grades, and the files that run
the shards and their merge on Slurm (a job array, then a merge job that depends on it) or on
Kubernetes (an Indexed Job, then a merge Job). The engines schedule; this module only decides
what each shard grades and writes their job files from ``file_templates/cluster/``.

The shard rule: submission ``name`` belongs to shard ``int(sha256(name)) % N``, the same on
every machine and every run, whatever order the files are listed in. Shards write results.json
files only (atomically, so shards can share one folder); ``autograder report`` merges them.
"""
import hashlib
import shlex
from pathlib import Path

from . import python_command, templating

SLURM_FILES = {"grade.sbatch": "grade.sbatch.j2", "merge.sbatch": "merge.sbatch.j2", "submit.sh": "submit.sh.j2"}
KUBERNETES_FILES = {"grade-job.yaml": "grade-job.yaml.j2", "merge-job.yaml": "merge-job.yaml.j2"}


class ShardError(ValueError):
    """A --shard value that is not K/N with 0 <= K < N."""


def parse_shard(text: str) -> tuple[int, int]:
    """"K/N" -> (K, N); shards count from 0, as Slurm's array task ids and Kubernetes'
    completion indexes do."""
    k_text, sep, n_text = str(text).partition("/")
    try:
        k, n = int(k_text), int(n_text)
    except ValueError:
        k = n = -1
    if not sep or n < 1 or not 0 <= k < n:
        raise ShardError(f"--shard wants K/N with 0 <= K < N (shards count from 0), got {text!r}")
    return k, n


def shard_of(name: str, shards: int) -> int:
    """The shard (0 to ``shards`` - 1) that grades the submission called ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % shards


def _write(files: dict, dest: Path, values: dict, executable=()) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, template in files.items():
        path = dest / name
        path.write_text(templating.render(f"cluster/{template}", **values), encoding="utf-8")
        if name in executable:
            path.chmod(0o755)
        written.append(path)
    return written


def slurm(assignment: str, submissions, out, shards: int, dest, cpus: int = 2, memory_mb: int = 8192,
          time_limit: str = "02:00:00", extra_sbatch: tuple = (), grade_options: str = "") -> list[Path]:
    """grade.sbatch (the array), merge.sbatch and submit.sh in ``dest``, for ``shards`` shards.
    Paths are made absolute: the jobs run on other nodes, which share this file system and
    this Python environment (the scripts call this interpreter)."""
    out, submissions, dest = Path(out).resolve(), Path(submissions).resolve(), Path(dest).resolve()
    values = {"assignment": assignment, "submissions": submissions, "out": out, "shards": shards, "cpus": cpus,
              "memory_mb": memory_mb, "time_limit": time_limit, "logs": dest / "logs", "workdir": Path.cwd(),
              "job_name": f"ag-{assignment}", "extra_sbatch": list(extra_sbatch), "grade_options": grade_options,
              "autograder": templating.ShellQuoted(shlex.join(python_command.isolated("-m", "autograder.cli")))}
    return _write(SLURM_FILES, dest, values, executable={"grade.sbatch", "merge.sbatch", "submit.sh"})


def kubernetes(assignment: str, shards: int, dest, image: str, volume_claim: str, mount: str = "/data",
               submissions: str = "submissions", out: str = "graded", cpus: int = 2, memory_mb: int = 8192,
               grade_options: str = "") -> list[Path]:
    """grade-job.yaml (an Indexed Job of ``shards`` pods) and merge-job.yaml in ``dest``.
    ``submissions`` and ``out`` are relative to ``mount``, where the claim is mounted."""
    values = {"assignment": assignment, "shards": shards, "image": image, "volume_claim": volume_claim,
              "mount": mount, "submissions": f"{mount.rstrip('/')}/{submissions}",
              "out": f"{mount.rstrip('/')}/{out}", "cpus": cpus, "memory_mb": memory_mb,
              "job_name": f"ag-{assignment.replace('_', '-')}", "grade_options": grade_options}
    return _write(KUBERNETES_FILES, Path(dest), values)
