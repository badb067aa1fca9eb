"""The worker's isolation in every mode this machine offers ("root" as root; "user", a user
namespace, as root and as an ordinary user; "none" only when asked), time limits on a busy
machine, what happens when the grader goes away, and refusing to grade unconfined. Hostile
submissions graded through the CLI are in test_hostile.py; stopping a batch in test_stop.py."""
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import variants
from autograder import cli, grade, isolation, reply_clock, root_fs, sandbox, worker_uids
from autograder.runtime import processes
from conftest import isolated_modes, uid_mode_works

CHECKS_FILE = Path(grade.__file__).parent / "assignments" / "gradient_descent" / "checks.py"
SECRET = "grader-secret-4f1e"
MODES = isolated_modes()  # with namespaces
ALL_MODES = MODES + (["uid"] if uid_mode_works() else [])  # and, as root, the uid mode (a container's)


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    """``envs(mode)``: one environment per mode for the module (starting one costs seconds),
    hiding what a batch hides (its output folder too); all closed at the end."""
    made = {}
    hide = grade.hidden_paths(tmp_path_factory.mktemp("out"))

    def get(mode):
        if mode not in made:
            made[mode] = sandbox.Environment.create(hide=hide, isolation=mode)
        return made[mode]

    yield get
    for e in made.values():
        e.close()


@pytest.fixture(params=MODES)
def env(request, envs):
    return envs(request.param)


@pytest.fixture(params=ALL_MODES)
def any_env(request, envs):
    return envs(request.param)


@pytest.fixture
def home_secret():
    """A file in the invoking user's home directory, which no worker may read or touch."""
    path = Path.home() / f".agr-test-secret-{os.getpid()}"
    path.write_text(SECRET)
    yield path
    path.unlink(missing_ok=True)
    Path(str(path) + ".pwned").unlink(missing_ok=True)


LOOK_AROUND = '''
import ctypes, os, socket
def look(paths, home_file, grader_pid):
    out = {"root": sorted(os.listdir("/")), "uid": os.getuid()}
    for name, path in paths.items():
        try:
            open(path).read(10)
            out[name] = "READ"
        except OSError as e:
            out[name] = type(e).__name__
    for name, path in (("write_home", home_file + ".pwned"), ("write_usr", "/usr/lib/pwned"),
                       ("write_checks", paths["checks"])):
        try:
            open(path, "a").write("x")
            out[name] = "WROTE"
        except OSError as e:
            out[name] = type(e).__name__
    open("mine.txt", "w").write("ok")
    open("/tmp/mine.txt", "w").write("ok")
    out["tmp"] = sorted(os.listdir("/tmp"))
    out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    out["grader_visible"] = os.path.exists(f"/proc/{grader_pid}/environ")
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=1)
        out["network"] = True
    except OSError:
        out["network"] = False
    libc = ctypes.CDLL(None, use_errno=True)
    out["umount"] = libc.umount2(b"/usr", 2) == 0 or libc.umount2(b"/tmp", 2) == 0
    out["caps"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
    return out
'''


def test_isolated_worker_sees_and_changes_nothing_of_the_grader(env, tmp_path, workers, home_secret):
    w = workers.start(env, LOOK_AROUND, tmp_path)
    w.load()
    paths = {"checks": str(CHECKS_FILE), "solution": str(variants.SOLUTION), "home": str(home_secret),
             "environ": f"/proc/{os.getpid()}/environ"}
    reply = sandbox.Session(w).call("look", paths, str(home_secret), os.getpid())
    assert reply.ok, reply
    got = reply.value
    # Only what the plan lists exists: the system folders, the Python installation (wherever
    # it lives: a venv inside a clone under /check, /work or a home), scratch and the worker's folder.
    planned = {Path(op[2] if op[0] in ("bind", "symlink") else op[1]).parts[1]
               for op in env.plan(w.dir) if op[0] != "hide"}
    assert planned >= {"usr", "etc", "dev", "tmp", "proc"} and "run" not in planned, planned
    assert set(got["root"]) == planned, (got["root"], planned)
    assert "run" not in got["root"]  # nor its sockets (D-Bus, Docker): only what the plan binds exists
    for name in ("checks", "solution", "home", "environ"):
        assert got[name] != "READ", (name, got)
    for name in ("write_home", "write_usr", "write_checks"):
        assert got[name] != "WROTE", (name, got)
    assert SECRET in home_secret.read_text() and not Path(str(home_secret) + ".pwned").exists()
    assert "mine.txt" in os.listdir(w.dir)  # its own folder is writable and shared
    assert "mine.txt" in got["tmp"] and not (Path("/tmp") / "mine.txt").exists()  # /tmp is its own
    assert len(got["pids"]) <= 3 and not got["grader_visible"], got["pids"]  # keeper, server, a child
    assert got["network"] is False and got["umount"] is False
    assert int(got["caps"], 16) == 0
    if env.policy.own_uid:
        assert got["uid"] >= worker_uids.UID_BASE


def test_concurrent_workers_cannot_see_or_signal_each_other(any_env, tmp_path, workers):
    code = textwrap.dedent('''
        import os, signal
        def where():
            return os.getcwd()
        def attack(other_dir):
            found = {"listed": None, "killed": []}
            try:
                found["listed"] = os.listdir(other_dir)
            except OSError as e:
                found["listed"] = type(e).__name__
            for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
                if pid not in (1, os.getpid()):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        found["killed"].append(pid)
                    except OSError:
                        pass
            return found
        ''')
    a, b = workers.start(any_env, code, tmp_path), workers.start(any_env, code, tmp_path)
    a.load()
    b.load()
    a_dir = sandbox.Session(a).call("where").value
    found = sandbox.Session(b).call("attack", a_dir).value
    assert found["listed"] in ("FileNotFoundError", "PermissionError"), found
    assert found["killed"] == [], found
    assert sandbox.Session(a).call("where").value == a_dir  # a is alive and unharmed


def _ns(pid, kind="pid"):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


@pytest.mark.skipif("root" not in MODES, reason="the template makes PID namespaces itself only as root")
def test_as_root_the_template_forks_each_keeper_into_a_pid_namespace_of_its_own(envs, tmp_path, workers):
    env = envs("root")
    code = "import os\ndef ids():\n    return os.getpid(), os.getppid()\n"
    a, b = workers.start(env, code, tmp_path), workers.start(env, code, tmp_path)
    template = env.template().process.pid
    for w in (a, b):
        w.load()
        status = Path(f"/proc/{w.pid}/status").read_text()
        assert f"NSpid:\t{w.pid}\t1\n" in status, status  # the keeper: PID 1 of its own namespace
        assert f"PPid:\t{template}\n" in status
        # It leads the session it made (become_worker's setsid): the template forked it directly;
        # a keeper forked by a setup process is in the session the setup process made.
        session = int(Path(f"/proc/{w.pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
        assert session == w.pid
        links = [os.readlink(f"/proc/{w.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{w.pid}/fd")]
        assert not [x for x in links if x.startswith("pid:")], links  # no way back to the template's
        assert sandbox.Session(w).call("ids").value == (2, 1)  # the server: the keeper's child
    assert _ns(a.pid) != _ns(b.pid) != _ns(os.getpid())
    # The template's next children (workers, a forked grader) are born in its own namespace again.
    assert _ns(template, "pid_for_children") == _ns(template) == _ns(os.getpid())


def test_each_call_is_seeded_as_torch_and_numpy_seed_their_generators(env, tmp_path, workers):
    import numpy as np
    import torch
    code = ("import random, numpy as np, torch\n"
            "def draw(n, scale):\n    return [random.random(), np.random.rand(n) * scale, torch.randn(n) * scale]\n")
    w = workers.start(env, code, tmp_path)
    w.load()
    for seed in (0, 5, 2**33 + 1):
        got = sandbox.Session(w).call("draw", 3, 2.0, seed=seed).value
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        assert got[0] == random.random()
        np.testing.assert_array_equal(got[1], np.random.rand(3) * 2.0)
        np.testing.assert_array_equal(got[2].numpy(), (torch.randn(3) * 2.0).numpy())


def test_only_a_submissions_main_worker_computes_its_signature(env, tmp_path, workers):
    code = "def f(a, b):\n    return a - b\n"
    main, other = workers.start(env, code, tmp_path), workers.start(env, code, tmp_path)
    assert main.load()["signature"] and other.load(sign=False)["signature"] == ""
    assert sandbox.Session(other).call("f", 5, 2).value == 3  # loaded all the same


def test_hidden_paths_inside_what_is_bound_are_covered(env, tmp_path, workers, monkeypatch):
    """A hidden path inside a bound tree (say the toolkit installed in site-packages) is
    covered: a hidden file reads empty, a hidden folder cannot be listed."""
    base = tmp_path / "bound"
    (base / "secrets").mkdir(parents=True)
    for name in ("visible.txt", "secret.txt", "secrets/a.txt"):
        (base / name).write_text("grader-secret")
    for p in (tmp_path, base, base / "secrets"):
        os.chmod(p, 0o755)
    for name in ("visible.txt", "secret.txt", "secrets/a.txt"):
        os.chmod(base / name, 0o644)
    monkeypatch.setattr(root_fs, "SYSTEM_PATHS", root_fs.SYSTEM_PATHS + (str(base),))
    monkeypatch.setattr(env, "hide", env.hide + [str(base / "secret.txt"), str(base / "secrets")])
    w = workers.start(env, "import os\ndef f(base):\n    out = [open(base + '/visible.txt').read(), "
                           "open(base + '/secret.txt').read()]\n    try:\n        out.append(str(os.listdir(base + "
                           "'/secrets')))\n    except OSError as e:\n        out.append(type(e).__name__)\n"
                           "    return out\n", tmp_path)
    w.load()
    reply = sandbox.Session(w).call("f", str(base))
    assert reply.value == ["grader-secret", "", "PermissionError"], reply


def test_read_only_also_on_kernels_without_mount_setattr(env, tmp_path, workers, monkeypatch):
    """Before Linux 5.12 each mount is remounted read-only, keeping the flags a user namespace
    may not clear; the worker sees the same."""
    monkeypatch.setattr(env, "mount_setattr", False)
    w = workers.start(env, LOOK_AROUND, tmp_path)
    w.load()
    got = sandbox.Session(w).call("look", {"checks": str(CHECKS_FILE)}, "/nonexistent/x", 1).value
    assert got["write_usr"] != "WROTE" and "mine.txt" in got["tmp"], got


def test_root_plan_binds_only_the_system_python_and_the_workers_folder(tmp_path):
    worker_dir, runtime = tmp_path / "s-1", tmp_path / "rt"
    plan = root_fs.root_plan([sys.prefix, os.path.join(sys.prefix, "lib")], [str(CHECKS_FILE.parent)],
                             runtime, worker_dir)
    binds = {op[2]: op[3] for op in plan if op[0] == "bind"}
    assert binds[str(worker_dir)] is True and binds[str(runtime)] is False
    assert binds.get(os.path.realpath(sys.prefix)) is False
    assert os.path.join(sys.prefix, "lib") not in binds  # inside what is bound already
    assert not any(t == str(Path.home()) or t.startswith("/run") or t.startswith("/home/") and
                   not sys.prefix.startswith(t) for t in binds)
    assert [op for op in plan if op[0] == "tmpfs" and op[3]] == [
        ["tmpfs", "/dev/shm", str(root_fs.SCRATCH_BYTES), True], ["tmpfs", "/tmp", str(root_fs.SCRATCH_BYTES), True],
        ["tmpfs", "/var/tmp", str(root_fs.SCRATCH_BYTES), True]]
    assert plan[-1] == ["hide", str(CHECKS_FILE.parent)]


# -- time limits on a busy machine ---------------------------------------------------------------

@pytest.fixture
def cpu_hogs():
    """More busy processes than cores, each in its own session (so the scheduler gives each
    its own share, as other users' work on a shared machine gets)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(reply_clock.CPUS + 2)]
    time.sleep(0.3)
    yield hogs
    for h in hogs:
        h.kill()
        h.wait()


@pytest.mark.parametrize("mode", MODES + ["none"])
def test_time_limits_count_cpu_and_waiting_not_time_queued_on_a_busy_machine(mode, envs, tmp_path, workers,
                                                                               cpu_hogs):
    """Beside more CPU hogs than cores, a loop still times out after 1 s of CPU time (not
    after a second of the clock, when it has had half that), and a sleep after 1 s of waiting."""
    code = "import time\ndef spin():\n    while True:\n        pass\ndef wait():\n    time.sleep(100)\n"
    for fn, message in (("spin", "timed out after 1 s of CPU time in spin"),
                        ("wait", "timed out after 1 s of waiting in wait")):
        w = workers.start(envs(mode), code, tmp_path, call_timeout=1)
        w.load()
        cpu = time.process_time()
        with pytest.raises(sandbox.SandboxError, match=message):
            sandbox.Session(w).call(fn)
        assert time.process_time() - cpu < 0.5  # measuring costs the grader little
        w.close()


# -- the uid mode: root where a container forbids namespaces ----------------------------------------

UID_LOOK = '''
import ctypes, os, socket
def look(paths, grader_pid):
    out = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "home": os.environ.get("HOME"),
           "tmpdir": os.environ.get("TMPDIR"), "cwd": os.getcwd(), "cwd_mode": oct(os.stat(".").st_mode & 0o777)}
    for name, path in paths.items():
        try:
            with open(path, "rb") as f:
                f.read(1)
            out[name] = "READ"
        except OSError as e:
            out[name] = type(e).__name__
    for name, path in (("write_home", "/root/.agr-pwned"), ("write_usr", "/usr/agr-pwned")):
        try:
            open(path, "w").close()
            out[name] = "WROTE"
        except OSError as e:
            out[name] = type(e).__name__
    for family in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"):
        try:
            socket.socket(getattr(socket, family), socket.SOCK_RAW if family == "AF_PACKET" else socket.SOCK_DGRAM)
            out[family] = "opened"
        except OSError as e:
            out[family] = type(e).__name__
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()  # local sockets still work
    try:
        os.kill(grader_pid, 0)
        out["signal_grader"] = "sent"
    except OSError as e:
        out["signal_grader"] = type(e).__name__
    status = open("/proc/self/status").read()
    out["caps"] = [l.split()[1] for l in status.splitlines() if l.startswith("CapEff")][0]
    out["no_new_privs"] = [l.split()[1] for l in status.splitlines() if l.startswith("NoNewPrivs")][0]
    import resource
    out["nproc"] = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    return out
'''


@pytest.mark.skipif(not uid_mode_works(), reason="the uid mode needs root and libseccomp")
def test_uid_worker_sees_and_changes_nothing_of_the_grader(envs, tmp_path, workers, home_secret):
    """A container's default security: no namespaces, so the worker shares the machine's file
    system and network namespace; it runs as an unprivileged uid of its own, without groups or
    capabilities, cannot read the checks, solutions or home directories (permission bits),
    cannot open a network socket (seccomp) and cannot signal the grader."""
    env = envs("uid")
    w = workers.start(env, UID_LOOK, tmp_path)
    w.load()
    paths = {"checks": str(CHECKS_FILE), "solution": str(variants.SOLUTION), "home_file": str(home_secret),
             "environ": f"/proc/{os.getpid()}/environ", "tests": str(Path(__file__))}
    reply = sandbox.Session(w).call("look", paths, os.getpid())
    assert reply.ok, reply
    got = reply.value
    assert got["uid"] == got["gid"] == w.uid >= worker_uids.UID_BASE and got["groups"] == [], got
    assert got["home"] == got["tmpdir"] == got["cwd"] == str(w.dir) and got["cwd_mode"] == "0o700", got
    for name in paths:
        assert got[name] == "PermissionError", (name, got)
    assert got["write_home"] == got["write_usr"] == "PermissionError", got
    assert [got[f] for f in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET")] == ["PermissionError"] * 4, got
    assert got["signal_grader"] == "PermissionError", got
    assert int(got["caps"], 16) == 0 and got["no_new_privs"] == "1" and got["nproc"] == w.limits.max_processes
    assert SECRET in home_secret.read_text()


@pytest.mark.skipif(not uid_mode_works(), reason="the uid mode needs root and libseccomp")
def test_uid_mode_leaves_nothing_of_its_uid_and_two_graders_never_share_one(envs, tmp_path, workers):
    """Every process of a worker's uid ends with it, and what it left in the shared /tmp goes;
    uids are held by a lock per uid, so a second grader on the machine takes other ones."""
    env = envs("uid")
    code = LEAVES_CHILDREN + "\ndef litter(name):\n    open('/tmp/' + name, 'w').write('x')\n    return 1\n"
    w = workers.start(env, code, tmp_path)
    w.load()
    mark = f"{os.getpid() % 1000 + 2000}.{time.monotonic_ns() % 10**6}"
    litter = f"agr-litter-{os.getpid()}"
    assert sandbox.Session(w).call("f", mark).value == 1 and sandbox.Session(w).call("litter", litter).value == 1
    uid = w.uid
    other = worker_uids.UidPool()  # as a second grader would
    taken = [other.take() for _ in range(3)]
    assert uid not in [u for u, _ in taken]
    for _, fd in taken:
        other.give_back(fd)
    w.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(entry[0] for entry in _uid_processes(uid)):
        time.sleep(0.05)
    assert _uid_processes(uid) == [] and not os.path.exists(f"/tmp/{litter}")


def _uid_processes(uid):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid and processes.table().get(int(pid), (0, 0, "Z"))[2] not in "ZX":
                found.append(pid)
        except OSError:
            pass
    return found


def test_open_only_passes_through_to_what_is_kept_and_closes_the_rest(tmp_path):
    """The uid mode's permission bits: a hidden folder holding the Python installation is only
    passed through (o+x), everything else in it closed to others; a hidden folder inside what
    is kept is closed; folders above what is kept can be passed through."""
    home = tmp_path / "home"
    (home / "py" / "lib").mkdir(parents=True)
    (home / "secrets").mkdir()
    (home / "notes.txt").write_text("x")
    (home / "py" / "lib" / "checks").mkdir()
    for p in (tmp_path, home, home / "py", home / "secrets"):
        p.chmod(0o700)
    worker_uids.open_only([str(home / "py")], [str(home), str(home / "py" / "lib" / "checks")])
    mode = lambda p: p.stat().st_mode & 0o007  # noqa: E731
    assert mode(tmp_path) & 0o001 and mode(home) == 0o001  # passed through, not listed
    assert mode(home / "secrets") == 0 and mode(home / "notes.txt") == 0
    assert mode(home / "py") == 0  # kept: its own bits are left as they were
    assert mode(home / "py" / "lib" / "checks") == 0


# -- the grader goes away ------------------------------------------------------------------------

LEAVES_CHILDREN = '''
import subprocess
def f(mark):
    subprocess.Popen(["sleep", mark], start_new_session=True)
    subprocess.Popen(["sleep", mark])
    return 1
'''


def _cmdline_has(pid, mark):
    try:
        return mark.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.parametrize("mode", ALL_MODES + ["none"])
def test_a_worker_ends_with_everything_it_started_when_its_grader_goes(mode, envs, tmp_path, workers):
    """Only the grader's end of the request pipe closes (as when the grader is killed with
    SIGKILL): the keeper notices and everything the submission started ends, a child that
    left its session included."""
    mark = f"{os.getpid() % 1000 + 1000}.{time.monotonic_ns() % 10**6}"
    w = workers.start(envs(mode), LEAVES_CHILDREN, tmp_path)
    w.load()
    assert sandbox.Session(w).call("f", mark).value == 1
    keeper = w.pid
    deadline = time.monotonic() + 5  # both children are running (on a busy machine, soon)
    while time.monotonic() < deadline and len([p for p in processes.table() if _cmdline_has(p, mark)]) < 2:
        time.sleep(0.05)
    assert len([p for p in processes.table() if _cmdline_has(p, mark)]) == 2
    os.close(w._req_w)  # the lifeline, and nothing else
    w._req_w = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (processes.tree(keeper) or
                                            any(_cmdline_has(p, mark) for p in processes.table())):
        time.sleep(0.05)
    assert processes.tree(keeper) == [] and not any(_cmdline_has(p, mark) for p in processes.table())


# -- no isolation --------------------------------------------------------------------------------

def test_grading_refuses_where_student_code_cannot_be_isolated(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(isolation, "strongest", lambda: isolation.Available(None, "namespaces are off (test)"))
    out = tmp_path / "out"
    code = cli.main(["grade", "gradient_descent", "examples/gradient_descent/alice_reference.ipynb", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "cannot isolate student code on this machine: namespaces are off (test)" in err
    assert "--no-sandbox" in err
    if os.geteuid() == 0:  # as root, what a container must allow
        assert "seccomp" in err and "libseccomp2" in err, err
    else:
        assert "as root" in err and "user namespaces" in err, err


def test_no_sandbox_grades_and_says_so_everywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(isolation, "strongest", lambda: isolation.Available(None, "namespaces are off (test)"))
    out = tmp_path / "out"
    code = cli.main(["grade", "gradient_descent", "examples/gradient_descent/alice_reference.ipynb", "--out", str(out),
                     "--no-sandbox"])
    err = capsys.readouterr().err
    results = json.loads((out / "alice_reference" / "results.json").read_text())
    assert code == 0 and results["score"] == 27
    assert results["extra_data"]["isolation"] == "none" and "Graded without isolation" in results["output"]
    assert "Graded without isolation" in err and "Graded without isolation" in (out / "summary.html").read_text()


def test_worker_without_isolation_still_hides_environment(tmp_path):
    """Even unconfined, the worker gets a scrubbed environment and its own empty folder."""
    src = variants.patch(variants.reference_text(), [("model", "    return weight * data + bias\n", '''
    import os
    raise RuntimeError("ENV " + os.environ.get("AUTOGRADER_TEST_SECRET", "no-env") + " " + str(os.listdir(".")))
''')])
    (tmp_path / "s.py").write_text(src)
    os.environ["AUTOGRADER_TEST_SECRET"] = SECRET
    try:
        with grade.Grader("gradient_descent", isolation=isolation.Mode.NONE) as g:
            r = g.grade(tmp_path / "s.py")
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
    out = next(c.output for c in r.checks if c.name == "test_model_values")
    assert "ENV no-env" in out and SECRET not in out and r.isolation == "none"


def test_a_worker_that_cannot_be_isolated_costs_its_submission_not_the_batch(tmp_path, monkeypatch):
    """Set-up failures (here a plan the jail does not know) are reported as such, in words."""
    (tmp_path / "s.py").write_text(variants.reference_text())
    with grade.Grader("gradient_descent", isolation=MODES[0] if MODES else "none") as g:
        if not g.env.policy.namespaces:
            pytest.skip("no isolated mode here")
        monkeypatch.setattr(g.env, "plan", lambda worker_dir, without=(): [["format_disk", "/"]])
        r = g.grade(tmp_path / "s.py")
    assert r.score == 0 and not r.graded
    assert "the worker could not be isolated: unknown step 'format_disk'" in r.messages[0], r.messages


def test_worker_that_stalls_before_any_cell_gets_one_more_try(tmp_path, monkeypatch):
    """A load that fails before any of the submission's cells ran is the worker's problem
    (a stalled machine), not the student's: it is retried once; a second failure is reported
    as such."""
    (tmp_path / "s.py").write_text(variants.reference_text())
    real_load, failures = sandbox.Worker.load, []

    def stalls(self, *args, **kwargs):
        if len(failures) < stalls.times:
            failures.append(1)
            raise sandbox.SandboxError("timed out after 4 s of CPU time while loading the submission",
                                       kind=sandbox.ErrorKind.TIMEOUT)
        return real_load(self, *args, **kwargs)

    monkeypatch.setattr(sandbox.Worker, "load", stalls)
    with grade.Grader("gradient_descent") as g:
        stalls.times = 1
        once = g.grade(tmp_path / "s.py")
        failures.clear()
        stalls.times = 2
        twice = g.grade(tmp_path / "s.py")
    assert once.score == once.max_score and once.status == "ok" and not once.messages, once.messages
    assert twice.score == 0 and twice.status == "timeout"
    assert twice.messages == ["Loading the submission failed: timed out after 4 s of CPU time while loading the "
                              "submission (before any of its cells ran)"]


def test_history_of_a_worktree_or_submodule_is_hidden_too(tmp_path, monkeypatch):
    """There ".git" is a file naming the folder that holds the history (and, for a worktree,
    the main repository's .git); all of them are hidden."""
    main_git = tmp_path / "main" / ".git"
    (main_git / "worktrees" / "wt").mkdir(parents=True)
    (main_git / "worktrees" / "wt" / "commondir").write_text("../..\n")
    repo = tmp_path / "wt"
    repo.mkdir()
    (repo / ".git").write_text(f"gitdir: {main_git / 'worktrees' / 'wt'}\n")
    monkeypatch.setattr(grade.assignments, "REPO", repo)
    paths = grade.hidden_paths()
    assert repo / ".git" in paths and main_git / "worktrees" / "wt" in paths and main_git in paths


TORCH_HUNT = '''
import torch  # a stand-in where torch is forbidden: importing works, using fails
import importlib, os, sys


def hunt(torch_folder):
    found = {"stand_in": type(torch).__name__}
    try:
        torch.zeros(1)
        found["use"] = "worked"
    except AttributeError as e:
        found["use"] = type(e).__name__
    sys.meta_path[:] = [f for f in sys.meta_path if "absent" not in type(f).__module__]
    for name in [k for k in sys.modules if k.split(".")[0] == "torch"]:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        import torch as again
        found["again"] = repr(getattr(again, "zeros", None))
    except Exception as e:
        found["again"] = type(e).__name__
    try:
        found["folder"] = len(os.listdir(torch_folder))
    except OSError as e:
        found["folder"] = type(e).__name__
    with open("/proc/self/maps") as f:
        found["mapped"] = "libtorch" in f.read()
    return found
'''


def _torch_mapped(keeper):
    """Whether any process of the worker (seen from outside, by the grader) maps libtorch."""
    for pid in processes.tree(keeper):
        try:
            if "libtorch" in Path(f"/proc/{pid}/maps").read_text():
                return True
        except OSError:
            pass
    return False


def test_a_worker_without_torch_has_no_torch_to_find(env, tmp_path, workers):
    """The NumPy-only rule, verified from outside: the worker of forbid=["torch"] calls maps no
    part of torch, and its code, having removed the stand-in and emptied sys.modules, finds no
    torch to import and cannot list torch's folder. The main worker does map torch (so the
    look from outside sees what it looks for)."""
    folder = root_fs.module_folders(["torch"])[0]
    plain = workers.start(env, TORCH_HUNT.replace("import torch  #", "import numpy  #"), tmp_path)
    plain.load()
    assert _torch_mapped(plain.pid)
    w = workers.start(env, TORCH_HUNT, tmp_path, without=("torch",))
    w.load()
    assert not _torch_mapped(w.pid)
    reply = sandbox.Session(w).call("hunt", folder)
    assert reply.ok, reply
    got = reply.value
    assert got["stand_in"] == "ForbiddenModule" and got["use"] == "ForbiddenUse", got
    assert got["again"] in ("ModuleNotFoundError", "None", "ImportError"), got
    assert got["folder"] in ("PermissionError", "FileNotFoundError", 0), got
    assert got["mapped"] is False and not _torch_mapped(w.pid)
