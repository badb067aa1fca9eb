"""Removing a worker's scratch folder, whatever the submission did to it."""
import os
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


SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")


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
