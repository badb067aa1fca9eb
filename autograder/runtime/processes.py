"""A process and everything below it, read from /proc: CPU used, time spent queued for a CPU,
and killing the lot. Used by the grader (time limits, see ``sandbox.Worker``) and by a worker's
keeper (``jail``), so standard library only.

Parent links are read from every /proc/<pid>/stat (this kernel family does not always offer
/proc/<pid>/task/<tid>/children). The tree is complete where its root is a PID namespace's
PID 1 or a child subreaper (a worker's keeper is one or the other): orphans are re-parented to
it, not to the host's init.
"""
import os
import signal

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(parent pid, CPU seconds of the process and of the children it waited for, state),
    or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the command: state ppid ... utime(11) stime(12) cutime(13) cstime(14)
    return int(fields[1]), sum(int(x) for x in fields[11:15]) / CLOCK_TICKS, fields[0].decode()


def table():
    """{pid: (parent pid, CPU seconds, state)} of every process this process can see."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            entry = _stat(name)
            if entry is not None:
                out[int(name)] = entry
    return out


def tree(root, procs=None):
    """``root`` and its descendants (root first), or [] when ``root`` is gone."""
    procs = table() if procs is None else procs
    if root not in procs:
        return []
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, ())
    return found


def queued_seconds(pid):
    """Time the threads of ``pid`` spent runnable but waiting for a CPU (schedstat), or 0."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def usage(root):
    """(CPU seconds, seconds queued for a CPU) of ``root`` and its descendants, or None when
    ``root`` is gone. CPU counts live processes and the children they reaped; time queued
    counts live threads only."""
    procs = table()
    pids = tree(root, procs)
    if not pids:
        return None
    return sum(procs[p][1] for p in pids), sum(queued_seconds(p) for p in pids)


def kill_tree(root, include_root=True, reap=False, rounds=50):
    """SIGKILL every descendant of ``root`` (and ``root`` itself last, if asked). Repeated
    until only zombies are left, since a fork bomb forks while it is being killed. ``reap``
    (for a keeper, never for the grader: it would take exit statuses that belong to
    ``subprocess``) collects this process's exited children between rounds. Returns whether
    nothing is left running."""
    for _ in range(rounds):
        procs = table()
        below = [p for p in tree(root, procs)[1:] if procs[p][2] not in "ZX"]
        if not below:
            break
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if reap:
            reap_children()
    else:
        return False
    if include_root:
        try:
            os.kill(root, signal.SIGKILL)
        except OSError:
            pass
    return True


def of_uid(uid):
    """PIDs of processes (zombies included) owned by ``uid``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    found.append(int(name))
            except OSError:
                pass
    return found


def kill_uid(uid):
    """SIGKILL every process of ``uid`` (run as root): a child takes that uid and calls
    kill(-1), which the kernel carries out for all of the uid's processes at once, so none can
    fork away meanwhile. Returns once that child is done."""
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            if os.getuid() == uid == os.geteuid() and uid >= 1000:  # never as root, never a system user
                os.kill(-1, signal.SIGKILL)
            code = 0
        except OSError:
            pass
        finally:
            os._exit(code)
    while True:
        try:
            os.waitpid(child, 0)
            return
        except InterruptedError:
            continue
        except ChildProcessError:
            return


def reap_children():
    """Collect every exited child of this process (a keeper's orphans); returns their pids."""
    done = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done.append(pid)
