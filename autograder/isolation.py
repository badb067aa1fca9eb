"""How student code is isolated: the modes, what each one guarantees, and which this machine allows.

A mode is one ``Mode``; what it does is its ``Policy`` (one frozen record per mode, in
``POLICIES``): every other module reads policy fields instead of comparing mode names. The
worker gets the policy as plain data (``Policy.spec``) and confines itself by it
(``runtime/jail.py``).

  root  as root with namespace privileges (a host, a privileged container): own mount, PID,
        network and IPC namespaces and root file system, its own unprivileged uid, control groups
  user  an ordinary user where unprivileged user namespaces work (a TA's laptop, a shared server;
        rootful podman): the same namespaces inside a user namespace, no capabilities
  uid   root without namespace privileges (Docker's and Kubernetes' default security, hence
        Gradescope): its own unprivileged uid and gid, the grading material unreadable to it by
        permission bits, the network denied by a seccomp filter, every process of its uid killed
  none  no isolation (``--no-sandbox``): limits and a keeper only

``strongest()`` probes the modes in that order (as root: root, user, uid; otherwise user) with
the real confinement in a fresh interpreter, and ``resolve`` turns what a caller asked for into a
policy, or raises ``NoIsolation`` saying why none works and what to change.
"""
import contextlib
import enum
import functools
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any



class Mode(str, enum.Enum):
    """The isolation modes; their values are what results.json records."""
    ROOT = "root"
    USER = "user"
    UID = "uid"
    NONE = "none"


class Kill(str, enum.Enum):
    """How everything a worker started is ended."""
    NAMESPACE = "namespace"  # PID 1 of its PID namespace is killed: the kernel kills the rest
    UID = "uid"  # every process of its own uid is killed (kill(-1) as that uid)
    SUBREAPER = "subreaper"  # its keeper, a child subreaper, kills its descendants


@dataclass(frozen=True)
class Policy:
    """What one mode does. ``namespaces``: own mount, PID, network and IPC namespaces and a root
    file system of its own; ``user_namespace``: those inside a new user namespace; ``own_uid``:
    the worker runs as an unprivileged uid of its own; ``cgroups``: control groups are tried
    (root only); ``seccomp``: a seccomp filter (``runtime/jail.install_filter``) lets socket()
    make only ``socket_families`` (every other family, AF_VSOCK among them, is denied) and denies
    io_uring; ``shared_ipc``: the worker shares the machine's IPC and writable folders (no
    namespaces), so the filter also denies SysV IPC and POSIX message queues, and whatever its
    uid leaves in the machine's world-writable folders is removed when it ends;
    ``hides_modules``: modules a call is made without (``forbid``) are absent from the worker's
    file system, so the rule is enforced, not only checked."""
    mode: Mode
    namespaces: bool
    user_namespace: bool
    own_uid: bool
    cgroups: bool
    seccomp: bool
    socket_families: tuple[str, ...]
    shared_ipc: bool
    hides_modules: bool
    kill: Kill
    hides: str  # how the grading material is kept from the worker, in words ("" if it is not)
    meaning: str  # the mode in a sentence, for the terminal and the pages

    @property
    def isolated(self) -> bool:
        return bool(self.hides)

    def spec(self) -> dict[str, Any]:
        """The policy as plain data, for the worker (``runtime/jail.py``)."""
        return {k: (v.value if isinstance(v, enum.Enum) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}


# A network namespace of its own holds no interface but a loopback that is down: internet and
# netlink sockets reach nothing there. Without one, only local (Unix) sockets.
IN_OWN_NETWORK = ("AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK")
LOCAL_ONLY = ("AF_UNIX",)

POLICIES = {
    Mode.ROOT: Policy(Mode.ROOT, namespaces=True, user_namespace=False, own_uid=True, cgroups=True, seccomp=True,
                      socket_families=IN_OWN_NETWORK, shared_ipc=False, hides_modules=True, kill=Kill.NAMESPACE,
                      hides="a root file system of its own (the grading material is not in it)",
                      meaning="root with namespaces: own namespaces, root file system, uid and control groups"),
    Mode.USER: Policy(Mode.USER, namespaces=True, user_namespace=True, own_uid=False, cgroups=False, seccomp=True,
                      socket_families=IN_OWN_NETWORK, shared_ipc=False, hides_modules=True, kill=Kill.NAMESPACE,
                      hides="a root file system of its own (the grading material is not in it)",
                      meaning="a user namespace: own namespaces and root file system, no capabilities"),
    Mode.UID: Policy(Mode.UID, namespaces=False, user_namespace=False, own_uid=True, cgroups=True, seccomp=True,
                     socket_families=LOCAL_ONLY, shared_ipc=True, hides_modules=False, kill=Kill.UID,
                     hides="permission bits (the grading material is unreadable to its uid)",
                     meaning="an unprivileged uid of its own (a container's default security): grading files "
                             "unreadable to it, no network (seccomp), every process of its uid killed"),
    Mode.NONE: Policy(Mode.NONE, namespaces=False, user_namespace=False, own_uid=False, cgroups=False, seccomp=False,
                      socket_families=(), shared_ipc=False, hides_modules=False, kill=Kill.SUBREAPER, hides="",
                      meaning="no isolation (--no-sandbox): student code ran as the grader's user"),
}
# Tried in this order: the first that works is used.
ORDER_AS_ROOT = (Mode.ROOT, Mode.USER, Mode.UID)
ORDER_AS_USER = (Mode.USER,)


class NoIsolation(RuntimeError):
    """Student code cannot be isolated on this machine (the message says why and what to do)."""


def _base_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


def probe(mode: Mode) -> str:
    """"" if a worker can be confined in ``mode`` here, else why not. Runs the real confinement
    (``jail.probe``) in a fresh interpreter, as the template would."""
    mode = Mode(mode)
    if platform.system() != "Linux":
        return f"this is {platform.system()}: isolation needs Linux"
    code = ("import json; from autograder.runtime.jail import probe; "
            "why = probe(json.loads(sys.argv[1])); print(why); sys.exit(1 if why else 0)")
    import json

    from . import python_command
    try:
        proc = subprocess.run(python_command.running(code, json.dumps(POLICIES[mode].spec())),
                              capture_output=True, text=True, timeout=60, env=_base_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"the isolation probe failed ({e})"
    if proc.returncode == 0:
        return ""
    lines = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return lines[-1] if lines else f"the isolation probe exited with status {proc.returncode}"


def _sysctl_hints() -> list[str]:
    hints = []
    for path, bad, text in (("/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone = 0"),
                            ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces = 0"),
                            ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
                             "AppArmor restricts them: kernel.apparmor_restrict_unprivileged_userns = 1")):
        with contextlib.suppress(OSError):
            if Path(path).read_text().strip() == bad:
                hints.append(text)
    return hints


def in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists() or \
        "KUBERNETES_SERVICE_HOST" in os.environ


@dataclass(frozen=True)
class Available:
    """The strongest policy this machine allows (None when none works) and, if none, why."""
    policy: Policy | None
    reason: str = ""

    @property
    def advice(self) -> str:
        if os.geteuid() == 0:
            return ("Student code would run as root. Either:\n"
                    "  - let the container create namespaces (Docker: --security-opt seccomp=unconfined "
                    "--cap-add SYS_ADMIN;\n    Kubernetes: a seccompProfile that allows unshare), or install "
                    "libseccomp2, which the uid mode needs\n    (apt-get install libseccomp2);\n"
                    "  - or pass --no-sandbox to grade without isolation (every results.json will say so).")
        return ("Student code would run as you, able to read the hidden checks and change your files. Either:\n"
                "  - run the grader as root (as Gradescope does) or inside a container;\n"
                "  - enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1 and "
                "user.max_user_namespaces=10000\n    (Ubuntu 24.04 and later: "
                "kernel.apparmor_restrict_unprivileged_userns=0);\n"
                "  - or pass --no-sandbox to grade without isolation (every results.json will say so).")


@functools.cache
def strongest() -> Available:
    """The first mode that works here, in ``ORDER_AS_ROOT`` or ``ORDER_AS_USER``."""
    reasons = []
    for mode in ORDER_AS_ROOT if os.geteuid() == 0 else ORDER_AS_USER:
        why = probe(mode)
        if not why:
            return Available(POLICIES[mode])
        reasons.append(f"{mode.value} mode: {why}")
    if os.geteuid() != 0:
        reasons = [f"unprivileged user namespaces do not work here ({reasons[0]})"] + _sysctl_hints()
    return Available(None, "; ".join(reasons))


def resolve(requested: "Mode | str | None" = None) -> Policy:
    """The policy to grade with: ``requested`` (a mode or its name), or, for None, the strongest
    this machine allows; NoIsolation when none does."""
    if requested is not None:
        try:
            return POLICIES[Mode(requested)]
        except ValueError:
            raise ValueError(f"isolation must be one of {[m.value for m in Mode]} or None, "
                             f"got {requested!r}") from None
    found = strongest()
    if found.policy is None:
        raise NoIsolation(f"cannot isolate student code on this machine: {found.reason}.\n{found.advice}")
    return found.policy
