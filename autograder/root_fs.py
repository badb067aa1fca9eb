"""A worker's root file system, as a plan of steps the worker follows when it starts
(``runtime/jail.build_root``): a fresh tmpfs holding read-only binds of the system and of the
Python installation, private size-capped scratch folders, a minimal /dev, the worker's own
folder, and the grader's hidden paths covered again where they fall inside what is bound."""
import contextlib
import os

# What a worker's root file system shows of the machine, read-only (``root_plan``).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
DEVICES = ("null", "zero", "full", "random", "urandom")
SCRATCH_BYTES = 256 << 20  # each of the worker's private /tmp, /var/tmp and /dev/shm


def _within(path, parent):
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def root_plan(python_paths, hide, runtime_dir, worker_dir):
    """The steps ``jail.build_root`` follows to make a worker's root file system (see its
    docstring for the ops). Only what is listed exists for the worker."""
    plan, bound = [], []

    def bind(source, target, writable=False):
        if not any(_within(target, b) for b in bound):  # binds are recursive: already there
            plan.append(["bind", source, target, writable])
            bound.append(target)

    # Order matters: the fresh mounts first, so that what is bound inside them (a Python in
    # /tmp, the worker's folder) is not covered by them.
    plan.append(["tmpfs", "/dev", "64k", False])
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            plan.append(["bind", f"/dev/{name}", f"/dev/{name}", False])
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        plan.append(["symlink", target, f"/dev/{name}"])
    for path in ("/dev/shm", "/tmp", "/var/tmp"):  # private, size-capped, gone with the worker
        plan.append(["tmpfs", path, str(SCRATCH_BYTES), True])
    for path in SYSTEM_PATHS:
        if os.path.islink(path):  # /bin -> usr/bin where /usr is merged
            plan.append(["symlink", os.readlink(path), path])
        elif os.path.isdir(path):
            bind(path, path)
    wanted = set()
    for path in python_paths:  # the interpreter, the standard library, site-packages
        if os.path.exists(path):
            wanted.add((os.path.realpath(path), os.path.abspath(path)))
            wanted.add((os.path.realpath(path), os.path.realpath(path)))
    for source, target in sorted(wanted, key=lambda st: (st[1].count("/"), st[1])):
        bind(source, target)
    plan.append(["dir", "/proc"])
    plan.append(["bind", str(runtime_dir), str(runtime_dir), False])
    plan.append(["bind", str(worker_dir), str(worker_dir), True])
    # Where they fall inside what is bound; not over a folder holding something bound (a Python
    # installation inside the hidden checkout): nothing else of it is in the root anyway.
    targets = [target for op, *args in plan if op == "bind" for target in args[1:2]]
    plan += [["hide", str(p)] for p in hide if not any(t != str(p) and _within(t, str(p)) for t in targets)]
    return plan


def module_folders(names) -> list[str]:
    """Where the modules ``names`` are installed (hidden from workers that must do without)."""
    import importlib.util
    found = []
    for name in names:
        with contextlib.suppress(ImportError, ValueError):
            spec = importlib.util.find_spec(name)
            if spec is not None:
                found += list(spec.submodule_search_locations or [os.path.dirname(spec.origin or "")])
    return [f for f in found if f]
