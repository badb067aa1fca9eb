"""Removing a worker's scratch folder, whatever the submission did to it."""
import os
import re
import shutil
import stat


def remove_tree(path):
    """Delete ``path`` and everything in it. A submission may have taken away permissions
    in its own folder (``chmod 000``); an ordinary user, unlike root, then cannot list or
    unlink there, so permissions are given back first. Returns whether it is gone."""
    def retry(function, failed, _exc):
        parent = os.path.dirname(failed)
        for p in (parent, failed):
            try:
                if not os.path.islink(p):
                    os.chmod(p, stat.S_IRWXU)
            except OSError:
                pass
        try:
            function(failed)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            shutil.rmtree(failed, ignore_errors=True)
        except OSError:
            pass

    if not os.path.lexists(path):
        return True
    try:
        shutil.rmtree(path, onerror=retry)
    except OSError:
        pass
    if os.path.lexists(path):  # a folder made unreadable is only listed once it is readable
        try:
            os.chmod(path, stat.S_IRWXU)
        except OSError:
            pass
        for root, dirs, _ in os.walk(path):
            for d in dirs:
                try:
                    os.chmod(os.path.join(root, d), stat.S_IRWXU)
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)
    return not os.path.lexists(path)


# File systems that hold no files a process leaves behind (or, for mqueue, are read apart).
PSEUDO_FILE_SYSTEMS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "devpts", "securityfs", "debugfs", "tracefs", "bpf", "pstore",
    "configfs", "fusectl", "binfmt_misc", "autofs", "nsfs", "mqueue", "hugetlbfs", "efivarfs", "selinuxfs",
    "rpc_pipefs"})


def mounts():
    """(mount point, file system type, read-only) of every mount this process sees."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, kind = left.split(), right.split()
            if len(fields) < 6 or not kind:
                continue
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # \040: a space
            found.append((point, kind[0], "ro" in fields[5].split(",")))
    return found


def shared_folders(skip=()):
    """The machine's folders every user may write in (world-writable: /tmp, /var/tmp, /dev/shm,
    /run/lock, and whatever else this machine has), and its POSIX message-queue folders: where
    a worker of the uid mode, which shares the machine, can leave files. Found by walking every
    writable file system from /, not into read-only or pseudo file systems, nor into a folder
    others may not pass through (a worker cannot reach below it), nor into ``skip``."""
    table = mounts()
    pruned = {p for p, kind, ro in table if ro or kind in PSEUDO_FILE_SYSTEMS} | set(skip)
    found = [p for p, kind, _ in table if kind == "mqueue"]
    stack = ["/"]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if not entry.is_dir(follow_symlinks=False) or entry.path in pruned:
                        continue
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError:
                    continue
                if mode & stat.S_IWOTH:
                    found.append(entry.path)
                if mode & stat.S_IXOTH:
                    stack.append(entry.path)
    return sorted(set(found))


SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")


def remove_leftovers(uid, folders=SHARED_SCRATCH):
    """Everything ``uid`` (a worker of the uid mode, every process of it gone) left on the
    machine: its entries in ``folders`` (``shared_folders``; a POSIX message queue is an entry
    of its mqueue folder) and its SysV shared memory, message queues and semaphores."""
    remove_owned(uid, folders)
    remove_sysv_ipc(uid)


# The SysV IPC objects the kernel lists, and how each is removed (ctl(id, IPC_RMID)).
SYSV_IPC = (("shm", "shmid", "shmctl"), ("msg", "msqid", "msgctl"), ("sem", "semid", "semctl"))
IPC_RMID = 0


def remove_sysv_ipc(uid):
    """Remove the SysV IPC objects that ``uid`` owns or made (listed in /proc/sysvipc)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, id_column, ctl in SYSV_IPC:
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *rows = [line.split() for line in f]
        except (OSError, ValueError):
            continue
        for row in rows:
            entry = dict(zip(header, row))
            try:
                if uid in (int(entry["uid"]), int(entry["cuid"])):
                    getattr(libc, ctl)(int(entry[id_column]), *((0,) if kind == "sem" else ()), IPC_RMID, None)
            except (KeyError, ValueError):
                continue


def remove_owned(uid, folders=SHARED_SCRATCH):
    """Remove what ``uid`` left at the top of shared scratch folders (a worker of the uid mode,
    which has no private /tmp, once every process of its uid is gone). Links are removed, never
    followed."""
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                if os.lstat(path).st_uid != uid:
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    remove_tree(path)
                else:
                    os.unlink(path)
            except OSError:
                pass
