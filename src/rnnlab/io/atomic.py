"""The one way rnnlab writes a file: whole or not at all.

Everything goes to a temporary file beside the target, which is flushed and
synced to disk, given the mode a plain open() would give it (0666 less the
umask; a temporary file starts private), then renamed over the target, and the
folder is synced so that the rename itself survives a crash. A reader sees the
old file or the new one, never half of one; a failed write removes its
temporary file. A write killed outright leaves its temporary file behind: it is
named after the target and the writing process, and the next write of the same
target removes those whose process is gone.
"""

import contextlib
import glob
import os
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prefix(path):
    return f".{os.path.basename(path)}."


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or no way to tell: keep its file
    return True


def remove_stale(path):
    """Remove temporary files left by killed writes of `path` (their writing process is gone)."""
    folder = os.path.dirname(os.path.abspath(path))
    for tmp in glob.glob(os.path.join(glob.escape(folder), glob.escape(_prefix(path)) + "*.tmp")):
        pid = os.path.basename(tmp)[len(_prefix(path)) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)


def _sync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path, mode="wb", encoding=None):
    """Open a temporary file beside `path` for writing ("wb" or "w"); it replaces `path` on a clean exit.

    Creates the folder if needed. Yields the open file object.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open expected mode 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{_prefix(path)}{os.getpid()}-", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _sync_folder(folder)


def write_bytes(path, data):
    """Write bytes to path atomically; returns path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return os.fspath(path)


def write_text(path, text):
    """Write UTF-8 text to path atomically; returns path."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return os.fspath(path)


def _writable_folder(folder, what):
    """Raise ValueError unless `folder` is, or can be made as, a writable folder."""
    folder = os.path.abspath(folder)
    probe = folder
    while not os.path.exists(probe):  # the nearest existing ancestor is the one that must let us in
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise ValueError(f"{what}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{what}: the folder {probe} is not writable")


def check_file_target(path, what="output file"):
    """Before any work: raise ValueError unless `path` can be written as a file (atomic_open's checks, early).

    Refuses an existing folder, a folder part that is a file and a folder that is not writable.
    Returns path.
    """
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{what} expected a file name, got ''")
    if os.path.isdir(path) or path.endswith(os.sep):
        raise ValueError(f"{what}: {path} is a folder; expected a file name")
    _writable_folder(os.path.dirname(os.path.abspath(path)), what)
    return path


def check_folder_target(path, what="output folder"):
    """Before any work: raise ValueError unless `path` is, or can be made as, a writable folder. Returns path."""
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{what} expected a folder name, got ''")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a file; expected a folder")
    _writable_folder(path, what)
    return path
