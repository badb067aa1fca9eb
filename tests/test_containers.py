"""Grading where graders run: inside a container with the engine's default security (root, the
default seccomp profile, no added capability, no network), as Docker, Kubernetes and Gradescope
run it. Namespaces are forbidden there, so the grader isolates each worker in the uid mode.

Needs a Docker daemon (``DOCKER_HOST``) and the repository's image built from its Dockerfile
(``AGR_TEST_IMAGE``): ``.ci/run`` makes both (``.ci/containers.sh``). Elsewhere these tests skip
and say why; with ``AGR_REQUIRE_CONTAINERS=1`` (CI) they fail instead.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import test_hostile as th
import variants
from autograder import build, assignments

ROOT = Path(__file__).resolve().parents[1]
DOCKER = os.environ.get("AGR_DOCKER") or shutil.which("docker")
IMAGE = os.environ.get("AGR_TEST_IMAGE")
IN_IMAGE = "/opt/dl-autograder"  # where the Dockerfile puts this checkout
GRADESCOPE_LIMITS = ["--memory", "768m", "--memory-swap", "768m", "--cpus", "0.5"]
GRADESCOPE_SECONDS = 600  # Gradescope's default time limit per submission


def unavailable() -> str:
    if not IMAGE:
        return "no image to test: AGR_TEST_IMAGE is not set (.ci/run builds one: .ci/containers.sh)"
    if not DOCKER:
        return "no docker client"
    info = subprocess.run([DOCKER, "image", "inspect", IMAGE], capture_output=True, text=True)
    if info.returncode != 0:
        return f"the Docker daemon or the image {IMAGE} is not there: {info.stderr.strip()[:300]}"
    return ""


@pytest.fixture(scope="module")
def docker():
    why = unavailable()
    if why:
        if os.environ.get("AGR_REQUIRE_CONTAINERS") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return DOCKER


def run_in_container(docker, script, mounts, limits=(), env=(), timeout=900):
    """``sh -c script`` in a fresh container of the image, default security, no network; returns
    (the process, wall seconds)."""
    args = [docker, "run", "--rm", "--network", "none", *limits]
    for host, inside, mode in mounts:
        args += ["-v", f"{host}:{inside}:{mode}"]
    for k, v in env:
        args += ["-e", f"{k}={v}"]
    start = time.monotonic()
    proc = subprocess.run([*args, IMAGE, "sh", "-c", script], capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - start


def container_cases():
    """The hostile cases that apply inside a container, with the container's own paths."""
    checks = f"{IN_IMAGE}/autograder/assignments/gradient_descent/checks.py"
    solution = f"{IN_IMAGE}/solutions/gradient_descent/gradient_descent.py"
    return {
        "reads_secrets": th.in_model(th.READS.format(checks=checks, solution=solution, home="/root/agr-secret",
                                                     pid=1, secret=th.SECRET, hidden=th.HIDDEN_CHECK)),
        "writes_home_and_toolkit": th.in_model(th.WRITES.format(targets=", ".join(repr(p) for p in (
            "/out/reference/results.json", "/root/PWNED", checks, f"{IN_IMAGE}/autograder/grade.py",
            "/usr/lib/agr-pwned")))),
        "fork_bomb": th.in_model(th.FORK_BOMB),
        "background_child": th.in_model(f"import subprocess\nsubprocess.Popen(['sleep', '{th.SLEEP_MARK}'], "
                                        "start_new_session=True)\n" + th.MODEL_BODY[4:]),
        "loop_in_function": th.in_model("while True:\n    pass\n"),
        "leaves_tmp_files": th.in_model("open('/tmp/agr-leftover', 'w').write('x')\n" + th.MODEL_BODY[4:]),
    }


def test_grade_in_a_default_container(docker, tmp_path):
    """`autograder grade` as root in a default container: the uid mode, the examples scored as on
    the host, and the hostile cases that apply held: no reading the checks, the solution, root's
    files, the grader's environment or the network; no writing results, the toolkit or the
    system; a fork bomb and an endless loop cost their checks; nothing outlives grading.
    (One submission at a time: without control groups, which a default container does not
    give, a fork bomb's hundreds of processes share the CPU with whatever is graded beside it,
    and under a 2 s limit that can cost another submission a check: README, Security.)"""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    out.mkdir()
    for p in (ROOT / "examples" / "gradient_descent").iterdir():
        shutil.copy(p, subs / p.name)
    variants.write(subs, "reference", th.REF)
    for name, text in container_cases().items():
        variants.write(subs, name, text)
    script = textwrap.dedent(f"""
        echo {th.SECRET} > /root/agr-secret
        autograder grade gradient_descent /subs --out /out --timeout 2 --load-timeout 10 --jobs 1 -q
        echo "exit $?"
        sleep 1
        echo "left: $(ps -eo args | grep -c '[s]leep {th.SLEEP_MARK}') $(ls /tmp | grep -c agr-leftover)"
        """)
    proc, seconds = run_in_container(docker, script, [(subs, "/subs", "ro"), (out, "/out", "rw")],
                                     env=[("AUTOGRADER_TEST_SECRET", th.SECRET)])
    assert "exit 1" in proc.stdout or "exit 0" in proc.stdout, proc.stdout + proc.stderr
    assert "left: 0 0" in proc.stdout, proc.stdout
    batch = {"out": out}
    rows = th.gradebook(batch)
    assert {k: float(rows[k]["score"]) for k in ("alice_reference", "bob_stub", "carol_batch_size_bug",
                                                 "dave_script", "reference")} == {
        "alice_reference": 27.0, "bob_stub": 0.0, "carol_batch_size_bug": 22.0, "dave_script": 27.0, "reference": 27.0}
    for name in rows:
        assert th.results(batch, name)["extra_data"]["isolation"] == "uid", name
    reads = next(t["output"] for t in th.model_tests(batch, "reads_secrets"))
    found = reads.split("READS ", 1)[1].split("\n")[0].split(" | ")
    assert not any(f.startswith(("READ ", "SECRET")) for f in found), found
    assert found[-3:] == ["env:none", "memory:False", "no-network"], found
    writes = next(t["output"] for t in th.model_tests(batch, "writes_home_and_toolkit"))
    assert "WROTE" not in writes, writes
    for name in ("fork_bomb", "loop_in_function"):
        th.assert_costs_only_model(batch, name)
    th.assert_full_marks(batch, "background_child")
    th.assert_full_marks(batch, "leaves_tmp_files")
    print(f"\ncontainer batch of {len(rows)} submissions in {seconds:.1f} s (wall, the container's start included)",
          file=sys.__stdout__)


@pytest.fixture(scope="module")
def zip_dir(tmp_path_factory):
    """The gradient_descent zip as `autograder build` makes it (refusing to grade unisolated)."""
    out = tmp_path_factory.mktemp("zip")
    build.build_zip(assignments.get("gradient_descent"), out)
    return out


def gradescope_run(docker, zip_dir, submission: Path, tmp_path):
    """Gradescope's layout and limits: /autograder/source holds the zip, /autograder/submission
    the submission, the zip's own run_autograder grades it, under 768 MB, half a CPU and 10
    minutes. Returns (results.json, wall seconds, peak memory in MiB)."""
    results = tmp_path / "results"
    results.mkdir()
    script = textwrap.dedent(f"""
        set -e
        mkdir -p /autograder/source /autograder/submission
        python3 -m zipfile -e /zips/autograder.zip /autograder/source
        cp /subs/{submission.name} /autograder/submission/
        echo '{{"id": 1, "assignment": {{"title": "gradient_descent"}}}}' > /autograder/submission_metadata.json
        ln -s /results /autograder/results
        bash /autograder/source/run_autograder
        cat /sys/fs/cgroup/memory.peak 2>/dev/null || cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes
        """)
    proc, seconds = run_in_container(docker, script, [(zip_dir, "/zips", "ro"), (submission.parent, "/subs", "ro"),
                                                      (results, "/results", "rw")],
                                     limits=GRADESCOPE_LIMITS, timeout=GRADESCOPE_SECONDS + 120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    peak = int(proc.stdout.strip().splitlines()[-1]) / 2**20
    return json.loads((results / "results.json").read_text()), seconds, peak


@pytest.mark.parametrize("case, expected", [("alice_reference.ipynb", 27.0), ("carol_batch_size_bug.ipynb", 22.0),
                                            ("reads_secrets.py", 25.0)])
def test_gradescope_layout_under_its_default_limits(docker, zip_dir, tmp_path, case, expected):
    """The zip's run_autograder in Gradescope's layout, under its default limits: the reference
    earns full marks, the known bug loses its points, a submission that reads the checks and the
    sources gets nothing of them, each within Gradescope's 10 minutes."""
    subs = tmp_path / "subs"
    subs.mkdir()
    if case.startswith("reads_secrets"):
        (subs / case).write_text(th.in_model(th.READS.format(
            checks="/autograder/source/files/dl_autograder/autograder/assignments/gradient_descent/checks.py",
            solution="/autograder/source/files/dl_autograder/solutions/gradient_descent/gradient_descent.py",
            home=f"{IN_IMAGE}/tests/test_hostile.py", pid=1, secret=th.SECRET, hidden=th.HIDDEN_CHECK)))
    else:
        shutil.copy(ROOT / "examples" / "gradient_descent" / case, subs / case)
    results, seconds, peak = gradescope_run(docker, zip_dir, subs / case, tmp_path)
    print(f"\nGradescope layout, {case}: {results['score']:g} points in {seconds:.1f} s (wall), peak memory "
          f"{peak:.0f} MiB of 768", file=sys.__stdout__)
    assert results["score"] == expected, results.get("output", "")[:2000]
    assert seconds < GRADESCOPE_SECONDS and peak < 768
    if case.startswith("reads_secrets"):
        out = next(t["output"] for t in results["tests"] if "test_model_values" in t["name"])
        found = out.split("READS ", 1)[1].split("\n")[0].split(" | ")
        assert not any(f.startswith(("READ ", "SECRET")) for f in found), found
        assert found[-1] == "no-network", found


def test_a_course_batch_in_a_default_container_reaches_and_leaves_nothing(docker, tmp_path):
    """Inside a default container (the uid mode), under Gradescope's memory limit: a course's
    batch where a spy reads another student's notebook, the roster, the policy, the ledger and the
    image's checkout (its examples are full solutions); a leaver writes into every shared folder
    (/tmp, /var/tmp, /dev/shm, /run/lock, and one the image does not usually have), asks for
    2.75 GiB of SysV shared memory, a message queue, a semaphore, a POSIX message queue and an
    AF_VSOCK socket; a finder graded after it looks for all of it. Nothing is read or found,
    nothing of a worker's is left when the grader ends, and a second batch of three correct
    submissions in the same container, graded from inside their folder beside a json.py, gets
    27 each (json.py too, which no process of the grader imports)."""
    import test_hostile_inputs as thi
    subs, course, out, again, out2 = (tmp_path / n for n in ("subs", "course", "out", "again", "out2"))
    for d in (subs, course, out, again, out2):
        d.mkdir()
    thi.course_files(course)
    (course / "course.toml").write_text(thi.POLICY.replace(
        "[late_penalty]", 'grace_days = 2\ngrace_ledger = "grace.json"\n[late_penalty]'))
    (course / "grace.json").write_text('{"format": 1, "used": {}}')
    shared = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/srv/odd"]
    secrets = ["/subs/s01.ipynb", "/course/roster.csv", "/course/course.toml", "/course/grace.json",
               f"{IN_IMAGE}/examples/gradient_descent/alice_reference.ipynb", f"{IN_IMAGE}/README.md"]
    shutil.copy(ROOT / "examples" / "gradient_descent" / "alice_reference.ipynb", subs / "s01.ipynb")
    for name, code in (("s02", thi.LEAVER.format(shared=shared, tag="agr-left")),
                       ("s03", thi.FINDER.format(shared=shared, tag="agr-left")),
                       ("s04", thi.SPY.format(paths=secrets))):
        variants.write(subs, name, th.in_model(code))
    for path in subs.iterdir():
        thi.stamp(path, thi.ON_TIME)
    for i in range(3):
        shutil.copy(ROOT / "examples" / "gradient_descent" / "alice_reference.ipynb", again / f"r{i}.ipynb")
    # Graded from inside its own folder, which holds a json.py: no process of the grader imports it.
    (again / "json.py").write_text(variants.reference_text() + "\nopen('/srv/imported-json', 'w').write('x')\n")
    script = textwrap.dedent("""
        mkdir -p /srv/odd /run/lock && chmod 1777 /srv/odd /run/lock
        cp -r /course-ro /course && cp -rp /subs-ro /subs
        autograder grade gradient_descent /subs --policy /course/course.toml --out /out --timeout 5 --jobs 1 -q
        echo "exit $?"
        echo "left: $(ls -a /tmp /var/tmp /dev/shm /run/lock /srv/odd /dev/mqueue 2>/dev/null | grep -c agr-left)"
        echo "ipc: $(cat /proc/sysvipc/shm /proc/sysvipc/msg /proc/sysvipc/sem | grep -vc '^ *key')"
        cd /again && autograder grade gradient_descent . --out /out2 --jobs 1 -q
        echo "again $?"
        echo "imported: $(ls /srv | grep -c imported)"
        """)
    proc, seconds = run_in_container(docker, script, [(subs, "/subs-ro", "ro"), (course, "/course-ro", "ro"),
                                                      (out, "/out", "rw"), (again, "/again", "ro"),
                                                      (out2, "/out2", "rw")], limits=GRADESCOPE_LIMITS)
    said = proc.stdout + proc.stderr
    assert "exit 0" in proc.stdout and "again 0" in proc.stdout, said[-3000:]
    assert "left: 0" in proc.stdout and "ipc: 0" in proc.stdout and "imported: 0" in proc.stdout, said[-3000:]
    assert thi.scores(out)["s01"] == 27.0 and thi.scores(out2) == {**{f"r{i}": 27.0 for i in range(3)}, "json": 27.0}
    spied = thi.raised(out, "s04", "SPY")
    assert not [f for f in spied if f.startswith("READ")], spied
    left = thi.raised(out, "s02", "LEAVER")
    assert [f"{c} Function not implemented" in left for c in ("shm", "msg", "sem", "mq")] == [True] * 4, left
    assert "vsock PermissionError" in left, left
    seen = thi.raised(out, "s03", "FINDER")
    assert not [f for f in seen if f.startswith(("READ", "SEEN"))], (seen, left)
    print(f"\ncontainer course batch: {seconds:.1f} s (wall, two batches and the container's start)",
          file=sys.__stdout__)
