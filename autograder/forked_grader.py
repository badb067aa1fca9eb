"""Run a grading command in a process forked from its own worker template: torch imported once.

The grader and the template that forks its workers both need torch, NumPy and matplotlib:
started side by side, each imports them, which doubles the seconds of CPU a cold submission
costs (on Gradescope, half a virtual CPU: every CPU second is two of waiting). The template
cannot be forked from the grader: the grader holds the checks, the reference and the batch's
file names, and every worker would inherit them. So the other way round:

  * the front (this module's ``run``, in the ``autograder`` command's process) starts the
    template as usual (``worker_template.Template``: a fresh ``python -I`` with a scrubbed
    environment, which imports what workers need and never sees anything secret);
  * then asks it to fork the grader (``runtime/forkserver.fork_grader``), which takes the
    front's path, folder, environment, arguments and standard streams (``child_main``) and
    runs the command with that template as its own (``worker_template.Template.adopt``);
  * the front forwards SIGINT, SIGTERM and SIGHUP to the grader, waits for its exit status on
    a pipe, then for the template to end, and exits with that status. If the front is killed,
    the grader sees its lifeline close and stops as on SIGTERM.

Workers are still forked from the template, which never held what the grader loads after the
fork. ``run`` returns None where this cannot be done (the caller then runs the command itself).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOPPED = 128  # exit status after a signal: 128 + its number, as the CLI's own


class StoppedEarly(BaseException):
    """A stop signal reached the front before the grader was forked: nothing was graded."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
CHILD = False  # True in the forked grader: it runs its command itself


def wanted() -> bool:
    """Whether this process should hand its command to a forked grader: not in the forked
    grader itself, and not where ``AUTOGRADER_FORK=0`` asks for one process."""
    return not CHILD and os.environ.get("AUTOGRADER_FORK", "1") != "0"


def run(entry: str, argv: list[str]) -> int | None:
    """Run ``entry`` ("module:function", called with ``argv``, returning an exit status) in a
    grader forked from a fresh template; its exit status, or None when no grader could be
    forked (nothing of the command ran then)."""
    from . import worker_template
    root = worker_template.make_root()
    template = worker_template.Template(root)
    pending: list[int] = []  # signals that came while the grader was being forked
    forwarded: list[int] = []
    grader_pid: int | None = None
    forking = False

    def forward(signum, _frame):
        if grader_pid is not None:
            forwarded.append(signum)
            with contextlib.suppress(OSError):
                os.kill(grader_pid, signum)
        elif forking:
            pending.append(signum)
        else:  # nothing graded yet: stop here
            raise StoppedEarly(signum)

    old = {sig: signal.signal(sig, forward) for sig in FORWARDED} \
        if threading.current_thread() is threading.main_thread() else {}
    status_r = status_w = life_r = life_w = -1
    # The grader's standard streams are ours; one we were started without is /dev/null for it.
    streams = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            streams.append(fd)
        except OSError:
            streams.append(os.open(os.devnull, os.O_RDWR))
    try:
        try:
            template.start()
            template.wait_ready()
            status_r, status_w = os.pipe()
            life_r, life_w = os.pipe()
            spec_file = root / "grader.json"  # the folder is ours alone (0700)
            spec_file.write_text(json.dumps({
                "entry": entry, "argv": argv, "argv0": sys.argv[0], "cwd": os.getcwd(), "env": dict(os.environ),
                "streams": [[getattr(s, "encoding", None) or "utf-8", getattr(s, "errors", None) or "strict"]
                            for s in (sys.stdin, sys.stdout, sys.stderr)]}))
            request = {"op": "grader", "module": __name__, "path": list(sys.path),
                       "spec_file": str(spec_file), "root": str(root)}
            forking = True
            sock = template.sock
            assert sock is not None  # started above
            socket.send_fds(sock, [json.dumps(request).encode()], [*streams, status_w, life_r])
            reply = json.loads(sock.recv(1 << 16))
            grader_pid = int(reply["pid"])
        except (StoppedEarly, OSError, ValueError, KeyError, RuntimeError) as e:
            template.stop()
            from .runtime import scratch
            scratch.remove_tree(root)
            if isinstance(e, StoppedEarly):
                print(f"autograder: stopped by {signal.Signals(e.signum).name} before grading began", file=sys.stderr)
                return STOPPED + e.signum
            print(f"autograder: grading in one process (the grader could not be forked from its template: {e})",
                  file=sys.stderr)
            return None
        for signum in pending:
            forward(signum, None)
        os.close(status_w)
        os.close(life_r)
        status_w = life_r = -1
        status = b""
        while True:  # the grader writes its status last, then exits
            try:
                chunk = os.read(status_r, 64)
            except InterruptedError:
                continue
            if not chunk:
                break
            status += chunk
        # The template ends once the grader closed its connection (and cleaned up after it).
        try:
            if template.process is not None:
                template.process.wait(timeout=60)
        except Exception:  # noqa: BLE001 - it must not outlive us
            template.stop()
        template.process = None
        if not status.strip().lstrip(b"-").isdigit():
            if forwarded:  # stopped before it could handle the signal (its default action ended it)
                print(f"autograder: stopped by {signal.Signals(forwarded[0]).name}", file=sys.stderr)
                return STOPPED + forwarded[0]
            print("autograder: the grading process ended without an exit status (killed?)", file=sys.stderr)
            return 1
        return int(status)
    finally:
        for fd in (*[f for f in streams if f > 2], status_r, status_w, life_r, life_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        template.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)


def child_main(spec: dict, fds: list[int], sock: socket.socket, template_pid: int) -> None:
    """In the process the template forked (``runtime/forkserver.fork_grader``): become the
    front's grader, run its command with the template as ours, write the exit status, end."""
    global CHILD
    CHILD = True
    stdin, stdout, stderr, status_w, life_r = fds
    for fd in (status_w, life_r):  # ours alone: no program this grader runs may hold them open
        os.set_inheritable(fd, False)
    for target, fd in enumerate((stdin, stdout, stderr)):
        os.dup2(fd, target)
        os.close(fd)
    details = json.loads(Path(spec["spec_file"]).read_text())
    os.unlink(spec["spec_file"])
    os.chdir(details["cwd"])
    os.environ.clear()
    os.environ.update(details["env"])
    sys.argv = [details["argv0"], *details["argv"]]
    streams = []
    for fd, (encoding, errors) in enumerate(details["streams"]):
        tty = os.isatty(fd)
        streams.append(open(fd, "r" if fd == 0 else "w", encoding=encoding, errors=errors, closefd=False,
                            buffering=1 if tty and fd > 0 else -1))  # line-buffered on a terminal, as Python's
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams  # type: ignore[misc]

    def watch_front():  # the front was killed: stop as on SIGTERM (workers killed, results kept)
        with contextlib.suppress(OSError):
            while os.read(life_r, 1):
                pass
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    done = threading.Event()
    threading.Thread(target=watch_front, daemon=True).start()
    from . import worker_template
    worker_template.ADOPTED[:] = [worker_template.Template.adopt(Path(spec["root"]), sock, template_pid)]
    code = 1
    try:
        module, _, function = details["entry"].partition(":")
        import importlib
        code = getattr(importlib.import_module(module), function)(details["argv"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:  # SIGINT before the command set its own handlers
        code = STOPPED + signal.SIGINT
    except BaseException:  # noqa: BLE001 - as an uncaught exception would end the command
        traceback.print_exc()
        code = 1
    finally:
        done.set()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        if worker_template.ADOPTED:  # the command made no Environment: the template ends with its connection
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(OSError):
            os.write(status_w, str(code if isinstance(code, int) else 1).encode())
        os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)
