"""Entries that tests/test_forked_grader.py runs in a forked grader (``forked_grader.run``)."""
import json
import os
import signal
import sys
import time


def report(argv):
    """Write what the forked grader found on arrival to argv[0]; exit status 3."""
    with open(argv[0], "w") as f:
        json.dump({"pid": os.getpid(), "cwd": os.getcwd(), "mark": os.environ.get("AGR_FORK_MARK"),
                   "argv": argv, "torch": "torch" in sys.modules, "numpy": "numpy" in sys.modules}, f)
    print("printed by the forked grader")
    print("and on its stderr", file=sys.stderr)
    return 3


def wait_for_stop(argv):
    """Until SIGTERM (the front's lifeline closed, or a forwarded signal): then note it in
    argv[0] and exit 143."""
    def stopped(signum, _frame):
        with open(argv[0], "a") as f:
            f.write(f"stopped by {signal.Signals(signum).name}\n")
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, stopped)
    with open(argv[0], "a") as f:
        f.write(f"running {os.getpid()}\n")
    while True:
        time.sleep(0.05)


def crash(argv):
    raise RuntimeError("a grader bug")
