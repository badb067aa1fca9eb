"""Control groups per worker (``autograder/cgroups.py``). The group tests need root and a
writable cgroup hierarchy; time limits without groups are in test_sandbox.py."""
import os
import textwrap
import threading
import time

import pytest

from autograder import cgroups, sandbox

V1_MOUNTINFO = """\
24 23 0:21 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
25 24 0:22 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
26 24 0:23 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
27 24 0:24 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
28 24 0:25 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
29 24 0:26 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
"""
V1_CGROUP = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n"


def test_reads_v1_mounts_and_own_groups(tmp_path):
    (tmp_path / "mountinfo").write_text(V1_MOUNTINFO)
    (tmp_path / "cgroup").write_text(V1_CGROUP)
    mounts = cgroups._mounts(tmp_path / "mountinfo")
    assert mounts == {"cpu": ("/sys/fs/cgroup/cpu", 1), "cpuacct": ("/sys/fs/cgroup/cpuacct", 1),
                      "memory": ("/sys/fs/cgroup/memory", 1), "pids": ("/sys/fs/cgroup/pids", 1)}
    own = cgroups._own_paths(tmp_path / "cgroup")
    assert own["memory"] == "process_api/abc" and own["cpu"] == "" and own[""] == ""


def test_reads_v2_mount_with_its_controllers(tmp_path):
    root = tmp_path / "unified"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "mountinfo").write_text(f"30 24 0:27 / {root} rw,relatime - cgroup2 cgroup2 rw\n")
    assert cgroups._mounts(tmp_path / "mountinfo") == {c: (str(root), 2) for c in ("cpu", "memory", "pids")}
    (tmp_path / "cgroup").write_text("0::/user.slice/grader\n")
    assert cgroups._own_paths(tmp_path / "cgroup") == {"": "user.slice/grader"}


@pytest.fixture(scope="module")
def env():
    if os.geteuid() != 0:
        pytest.skip("needs root and a writable cgroup hierarchy (see README, Security)")
    e = sandbox.Environment.create(isolation="root")
    if e.groups is None:
        e.close()
        pytest.skip("needs root and a writable cgroup hierarchy (see README, Security)")
    yield e
    e.close()


def group_dirs(env, w):
    return [base / w.dir.name for base, _, _ in env.groups.bases]


def test_worker_processes_join_its_groups_which_go_with_it(env, tmp_path, workers):
    w = workers.start(env, "def f():\n    return open('/proc/self/cgroup').read()\n", tmp_path)
    w.load()
    reply = sandbox.Session(w).call("f")
    dirs = group_dirs(env, w)
    assert all(d.is_dir() for d in dirs)
    assert all(w.dir.name in line for line in reply.value.splitlines()
               if line.split(":")[1] in ("cpu", "pids", "memory")), reply.value
    w.close()
    assert env.groups.settle(wait=5)  # also what a batch's end does
    assert not any(d.exists() for d in dirs)


def test_process_cap_holds_for_the_whole_submission(env, tmp_path, workers):
    w = workers.start(env, textwrap.dedent("""
        import os, time
        def f():
            made = 0
            for _ in range(100):
                try:
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                    made += 1
                except OSError:
                    break
            return made
        """), tmp_path, max_processes=20)
    w.load()
    made = sandbox.Session(w).call("f").value
    pids = next(d for d in group_dirs(env, w) if (d / "pids.max").exists())
    cap, current = (pids / "pids.max").read_text().strip(), int((pids / "pids.current").read_text())
    w.close()
    assert cap == "20" and current <= 20 and 10 <= made < 20, (cap, current, made)


def test_memory_cap_covers_all_processes_and_says_so(env, tmp_path, workers):
    """Three children of 900 MiB each stay under a 2 GiB per-process address-space limit;
    together they pass the group's 2 GiB. The kernel kills one of the processes (which one
    varies); the call fails the same way whichever it was."""
    w = workers.start(env, textwrap.dedent("""
        import os
        def f():
            kids = []
            for _ in range(3):
                pid = os.fork()
                if pid == 0:
                    x = bytearray(900 << 20)
                    for i in range(0, len(x), 4096):
                        x[i] = 1
                    os._exit(0)
                kids.append(pid)
            return [os.waitpid(p, 0)[1] for p in kids]
        """), tmp_path, memory_bytes=2 << 30)
    w.load()
    with pytest.raises(sandbox.SandboxError, match="ran out of its 2048 MiB of memory"):
        sandbox.Session(w).call("f")


SESSION_FORK_BOMB = """
import os
while True:
    try:
        if os.fork() == 0:
            os.setsid()  # one scheduler autogroup per child: only a CPU group keeps them to one share
    except OSError:
        pass
"""


def test_fork_bomb_does_not_starve_a_submission_graded_beside_it(env, tmp_path, workers):
    """Without a CPU group per worker the victim's load waits for the bomb to be killed
    (measured: 0.34 s alone, 2.75 s beside a bomb killed after 4 s). Compared in CPU-share
    terms: the victim must finish while the bomb still runs."""
    victim_code = "x = sum(range(20_000_000))\ndef f():\n    return x\n"
    alone = workers.start(env, victim_code, tmp_path)
    start = time.monotonic()
    alone.load()
    alone_seconds = time.monotonic() - start
    alone.close()

    bomb = workers.start(env, SESSION_FORK_BOMB, tmp_path, load_timeout=8, max_processes=200)
    bomb_done = threading.Event()

    def run_bomb():
        try:
            bomb.load()
        except sandbox.SandboxError:
            pass
        bomb_done.set()

    thread = threading.Thread(target=run_bomb)
    thread.start()
    try:
        time.sleep(1.0)  # the bomb is at its process cap by now
        victim = workers.start(env, victim_code, tmp_path)
        start = time.monotonic()
        victim.load()
        beside_seconds = time.monotonic() - start
        finished_while_bomb_ran = not bomb_done.is_set()
    finally:
        bomb.kill()
        thread.join()
    assert finished_while_bomb_ran, (alone_seconds, beside_seconds)
    assert beside_seconds < max(1.0, 5 * alone_seconds), (alone_seconds, beside_seconds)


def test_groups_of_a_killed_grader_are_removed_by_the_next(env):
    dead = 2 ** 22 + 12345  # above pid_max's default: no such process
    stale = [base.parent / f"{cgroups.PREFIX}{dead}-deadbeef" for base, _, _ in env.groups.bases]
    for d in stale:
        (d / "s-old").mkdir(parents=True)
    again = cgroups.Groups.create()
    try:
        assert not any(d.exists() for d in stale)
    finally:
        again.close()
        for d in stale:
            if d.exists():
                (d / "s-old").rmdir()
                d.rmdir()
