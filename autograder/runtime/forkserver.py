"""The template process: imports torch, NumPy and matplotlib once, then forks one worker per
submission on request, so no submission pays the ~3 s of imports. A template started with
module names after its socket never imports those (``absent``): its workers serve the calls
made with ``forbid``.

It never runs student code and holds nothing secret (it is started with ``python -I``, a
scrubbed environment and only this runtime package). Requests arrive on a SOCK_SEQPACKET
socket: a JSON spec plus the worker's two pipe ends; the reply is {"pid": the keeper's PID} or
{"error": why the worker could not be confined}. Its first message tells the grader where its
Python lives (``sys.path``), which the workers' root file systems must show.

If the grader dies (its end of the socket closes), the template cleans up after it: the
workers' keepers end by themselves (their lifelines closed too) or are killed, then their
control groups and the batch's scratch folder (the template's working directory) go.
"""
import gc
import json
import os
import select
import signal
import socket
import sys
import time

from . import absent, jail, scratch, worker


def become_worker(spec, fd_in, fd_out, started_fd):
    """In the forked child: confine, then serve the grader as that submission's worker."""
    for procs in spec.get("cgroups", ()):  # first: every process this one starts inherits them
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    os.setsid()
    os.chdir(spec["dir"])
    os.environ.update(spec["env"])
    jail.apply_limits(spec["limits"])
    jail.confine(spec, fd_in, [fd_out], started_fd)
    jail.first_for_the_oom_killer()
    absent.install(spec.get("without", ()), stand_in=True)  # before any student code
    worker.serve(fd_in, fd_out)


class Keepers:
    """The keepers this template started, as pidfds (a PID could be reused by then)."""

    def __init__(self):
        self.live = []  # pidfds

    def add(self, pid):
        try:
            fd = os.pidfd_open(pid)
        except (OSError, AttributeError):  # already gone, or a kernel without pidfds
            return
        self.live = [f for f in self.live if not self._ended(f)] + [fd]

    @staticmethod
    def _ended(fd):
        if select.select([fd], [], [], 0)[0]:
            os.close(fd)
            return True
        return False

    def end_all(self, grace=1.0):
        """Give the keepers ``grace`` seconds to end by themselves, then kill them."""
        deadline = time.monotonic() + grace
        while self.live and time.monotonic() < deadline:
            self.live = [f for f in self.live if not self._ended(f)]
            time.sleep(0.02)
        for fd in self.live:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass

    def remove_groups(self, groups, wait=2.0):
        deadline = time.monotonic() + wait
        left = list(groups)
        while left and time.monotonic() < deadline:
            for group in list(left):
                try:
                    os.rmdir(group)
                    left.remove(group)
                except FileNotFoundError:
                    left.remove(group)
                except OSError:  # processes still exiting
                    pass
            time.sleep(0.02)
        for batch in {os.path.dirname(g) for g in groups}:
            try:
                os.rmdir(batch)
            except OSError:
                pass


def clean_up_after_grader(keepers, groups):
    keepers.end_all()
    keepers.remove_groups(groups)
    scratch.remove_tree(os.getcwd())


def main(argv):
    """argv: the socket's fd, then the modules this template's workers do without."""
    sock = socket.socket(fileno=int(argv[0]))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # setup processes are reaped by the kernel
    # Orphans of its workers (a server whose keeper was killed) come back here, and are reaped
    # the same way, not left as zombies of whatever PID 1 is (in a container, often the grader).
    jail._prctl(jail.PR_SET_CHILD_SUBREAPER, 1)
    for sig in (signal.SIGINT, signal.SIGHUP):  # the grader decides when this process ends
        signal.signal(sig, signal.SIG_IGN)
    worker.prepare_process(tuple(argv[1:]))
    # Keep the garbage collector off the imported modules' objects in every fork: otherwise
    # each worker's first collections touch (and so copy) most of the template's heap.
    gc.freeze()
    keepers, groups = Keepers(), set()
    try:
        sock.send(ready_message())
        serve(sock, keepers, groups)
    except OSError:  # the socket failed: the grader is gone
        pass
    clean_up_after_grader(keepers, groups)  # leave nothing behind
    os._exit(0)


def ready_message():
    """The first message to a grader: where this Python lives (its workers' roots show it)."""
    return json.dumps({"op": "ready", "path": [p for p in sys.path if p],
                       "prefixes": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix}),
                       "executable": os.path.realpath(sys.executable)}).encode()


def fork_grader(sock, spec, fds):
    """Fork the grader itself from this template (``autograder/forked_grader.py``), so that it
    finds torch, NumPy and matplotlib imported: one import serves it and its workers. This
    process holds nothing secret, and the grader it forks is not a worker: it goes on with
    the front's own path, folder, environment and standard streams (``spec``, ``fds``). From
    then on this template serves the forked grader (the returned socket), not the front."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            sock.close()
            ours.close()
            for sig in (signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # as in any Python program
            sys.path[:] = spec["path"]
            import importlib
            importlib.import_module(spec["module"]).child_main(spec, fds, theirs, os.getppid())
        except BaseException as exc:  # noqa: BLE001 - say why on the front's stderr, then end
            try:  # fd 2: the front's stderr (the template's own, and the grader's once it took over)
                os.write(2, f"autograder: the forked grader failed: {jail._describe(exc)}\n".encode())
            finally:
                os._exit(70)
        os._exit(0)
    for fd in fds:
        os.close(fd)
    theirs.close()
    sock.send(json.dumps({"pid": pid}).encode())
    ours.send(ready_message())
    return ours


def serve(sock, keepers, groups):
    """Fork a worker per request until the grader closes its end of ``sock``."""
    while True:
        data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 8)
        if not data:
            return
        spec = json.loads(data)
        if spec.get("op") == "grader":
            return serve(fork_grader(sock, spec, fds), keepers, groups)
        started_r, started_w = os.pipe()
        try:
            if jail.template_makes_pid_namespace(spec["isolation"]):
                spec["pid_namespace_made"] = True
                pid = jail.fork_into_pid_namespace()
            else:
                pid = os.fork()
        except (OSError, jail.SetupError) as exc:
            os.close(started_r)
            os.close(started_w)
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"error": jail._describe(exc)}).encode())
            continue
        if pid == 0:
            try:
                jail.forget_host_pid_namespace()
                sock.close()
                os.close(started_r)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                become_worker(spec, *fds, started_w)
            except BaseException as exc:  # noqa: BLE001 - report on the pipe if we still can
                try:
                    os.write(started_w, f"error: {jail._describe(exc)}".encode()[:4000])
                finally:
                    os._exit(70)
            os._exit(0)
        for fd in (*fds, started_w):
            os.close(fd)
        try:  # the PID to kill, once the worker knows it, or why there is none
            reported = os.read(started_r, 4096).decode(errors="replace")
        finally:
            os.close(started_r)
        if reported == "ok" and spec.get("pid_namespace_made"):  # the keeper is the child itself
            reported = str(pid)
        if reported.isdigit():
            keepers.add(int(reported))
            groups.update(os.path.dirname(p) for p in spec.get("cgroups", ()))
            reply = {"pid": int(reported)}
        else:
            reply = {"error": reported.removeprefix("error: ") or "the worker ended during set-up"}
        sock.send(json.dumps(reply).encode())


if __name__ == "__main__":
    main(sys.argv[1:])
