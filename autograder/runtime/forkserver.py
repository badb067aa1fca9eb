"""The template process: imports torch, NumPy and matplotlib once, then forks one worker per
submission on request, so no submission pays the ~3 s of imports.

It never runs student code and holds nothing secret (it is started with ``python -I``, a
scrubbed environment and only this runtime package). Requests arrive on a SOCK_SEQPACKET
socket: a JSON spec plus the worker's two pipe ends; the reply is the worker's pid.
"""
import gc
import json
import os
import signal
import socket
import sys

from . import jail, worker


def become_worker(spec, fd_in, fd_out, report_fd):
    """In the forked child: confine, then serve the grader as that submission's worker.
    ``report_fd`` receives the PID the grader must kill to end everything this worker starts."""
    for procs in spec.get("cgroups", ()):  # first: every process this one starts inherits them
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    os.setsid()
    os.chdir(spec["dir"])
    os.environ.update(spec["env"])
    jail.apply_limits(spec["limits"])
    if spec["isolate"]:
        jail.isolate(spec["hide"], spec["expose"], spec["uid"], spec["limits"]["max_processes"], report_fd)
    else:  # without root the process limit counts all of the grader's user's processes
        jail.limit_processes_of_current_user(spec["limits"]["max_processes"])
        os.write(report_fd, str(os.getpid()).encode())
        os.close(report_fd)
    worker.serve(fd_in, fd_out)


def main(argv):
    sock = socket.socket(fileno=int(argv[0]))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    worker.prepare_process()
    # Keep the garbage collector off the imported modules' objects in every fork: otherwise
    # each worker's first collections touch (and so copy) most of the template's heap.
    gc.freeze()
    sock.send(b'{"op": "ready"}')
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 2)
        except OSError:
            os._exit(0)
        if not data:
            os._exit(0)
        spec = json.loads(data)
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                sock.close()
                os.close(report_r)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                become_worker(spec, *fds, report_w)
            except BaseException as exc:  # noqa: BLE001 - report on the pipe if we still can
                try:
                    os.write(2, f"worker setup failed: {exc!r}\n".encode())
                finally:
                    os._exit(code)
            os._exit(0)
        for fd in (*fds, report_w):
            os.close(fd)
        try:  # the PID to kill, once the worker knows it (empty if its set-up failed)
            reported = os.read(report_r, 32)
        finally:
            os.close(report_r)
        sock.send(json.dumps({"pid": int(reported) if reported else pid}).encode())


if __name__ == "__main__":
    main(sys.argv[1:])
