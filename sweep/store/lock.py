"""One sweep per store at a time: an OS lock on a file beside the store.

The lock is ``<store>.lock`` (beside the store, so ``--overwrite`` cannot delete it). A run holds
an exclusive ``flock`` on it for its whole lifetime and writes JSON ``{"pid", "host",
"started"}`` into it for the error message of whoever is refused. The operating system (or the
file server) owns the lock, not the file's contents:

* exclusive under any interleaving: only ``flock`` decides who holds it; the file is unlinked
  on release while the lock is still held, and an acquirer that locked an inode which is no
  longer the one at the path (it was unlinked or replaced meanwhile) lets go and tries again, so
  two processes never hold locks on the same path at once;
* a run that dies in any way (SIGKILL, SIGTERM, SIGHUP, out of memory) loses its lock with its
  last file descriptor: the kernel releases it. The file it leaves behind is taken over by the
  next run with a warning; its contents are only a note;
* the file is opened with ``O_NOFOLLOW`` and must be a regular file with no other name: in a
  shared directory anyone may create the lock's name, and a symbolic or hard link planted there
  is refused, naming it, never followed into a file the run's user can write.

Shared file systems (the rule this module relies on, checked where the tests can):

* **NFS** (v3 with NLM, v4): Linux emulates ``flock`` with whole-file POSIX locks that the
  server arbitrates, so the lock holds across hosts. A host that dies keeps its lock until the
  server reclaims it: the NFSv4 lease (90 s by default) or NLM's reboot notification for v3.
  A requeued job that starts on another node within that time is refused with the owner's
  PID and host, and succeeds once the lease has expired (``wait_s`` waits for it).
* **Lustre**: cluster-wide only when the clients mount with ``-o flock``. With ``localflock``
  the lock is per node: two nodes could both hold it, so do not run two sweeps on one store
  from different nodes there. With ``noflock`` the call fails and the run is refused with that
  reason (never silently unlocked).
* **GPFS/Spectrum Scale, BeeGFS**: ``flock`` is cluster-wide.

Stores given as URLs (s3://, http://) are not locked; two runs on one remote store at once are
the user's responsibility.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import logging
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..addresses import local_path
from .common import StoreError

log = logging.getLogger(__name__)

RETRY_S = 0.05
"""Pause between tries while waiting for a lock (``wait_s``); short, as a run that ends releases
at once."""


class LockedError(StoreError):
    """Another live run holds the store."""


class LockError(StoreError):
    """The lock's path holds something that is not a lock file (a link, a directory, ...)."""


class StoreLock:
    """Context manager holding ``<store>.lock``; no-op (with a warning) for URL stores.

    ``wait_s``: seconds to keep trying while another run holds the lock (0: refuse at once).
    """

    def __init__(self, store: str, *, wait_s: float = 0.0):
        self.store = str(store)
        local = local_path(self.store)
        self.path = None if local is None else Path(local.rstrip("/") + ".lock")
        self.wait_s = wait_s
        self.held = False
        self._fd: int | None = None

    def _owner(self, fd: int) -> dict:
        try:
            return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return {}  # being written by its owner right now, or garbage

    def _open(self) -> int | None:
        """A descriptor of the lock file itself: never through a symbolic link (``O_NOFOLLOW``),
        and only a regular file with no other name, so that a link planted at the lock's path
        cannot make a run truncate and write another file; :class:`LockError` names it. None
        when the file was released and unlinked by its holder between our open and our look
        (no name at all: try again)."""
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK
                         | os.O_CLOEXEC, 0o644)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise LockError(f"{self.store}: the lock {self.path} is a symbolic link; a "
                                f"lock is a plain file: remove the link") from None
            raise LockError(f"{self.store}: cannot open the lock {self.path} "
                            f"({err.strerror})") from None
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 0:
            os.close(fd)
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            os.close(fd)
            what = ("has other hard links" if stat.S_ISREG(st.st_mode)
                    else "is not a regular file")
            raise LockError(f"{self.store}: the lock {self.path} {what}; a lock is a plain "
                            f"file of its own: remove it")
        return fd

    def _try_once(self) -> dict | None:
        """Hold the lock (None), or the holder's note, or ``{"retry": True}`` when the file
        was released and unlinked between our open and our lock."""
        fd = self._open()
        if fd is None:
            return {"retry": True}
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = self._owner(fd)
            os.close(fd)
            return owner
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise LockedError(
                    f"{self.store}: the file system of {self.path} does not support locks "
                    f"({err.strerror}); on Lustre mount with -o flock") from None
            raise
        try:
            same = os.fstat(fd).st_ino == os.lstat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)  # closing the last descriptor releases the lock
            return {"retry": True}
        stale = self._owner(fd)
        if stale.get("pid") is not None:
            log.warning("%s: taking over stale lock of PID %s on %s (that run is gone)",
                        self.store, stale.get("pid"), stale.get("host", "?"))
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
        except OSError as err:  # a full disk: the lock holds, only its note is missing
            log.warning("%s: cannot write the note of the lock %s (%s)", self.store,
                        self.path, err.strerror)
        self._fd = fd
        return None

    def acquire(self) -> None:
        if self.path is None:
            log.warning("%s: remote stores are not locked; do not run two sweeps on it at once",
                        self.store)
            return
        if self.held:
            raise LockedError(f"{self.store}: this lock is already held")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.wait_s
        while True:
            owner = self._try_once()
            if owner is None:
                self.held = True
                return
            if owner.get("retry"):
                continue
            if time.monotonic() >= deadline:
                raise LockedError(
                    f"{self.store}: another run holds the store (lock {self.path}: "
                    f"PID {owner.get('pid', '?')} on {owner.get('host', '?')} since "
                    f"{owner.get('started', '?')}); it is released when that run ends, or "
                    f"when the file server notices that its host died")
            time.sleep(RETRY_S)

    def release(self) -> None:
        """Unlink the file, then let go of the lock (in that order: see the module)."""
        if not self.held:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            fd, self._fd = self._fd, None
            self.held = False
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def held(store: str, *, check: Callable[[], None], locked: bool = False) -> Iterator[None]:
    """Hold ``store`` for a piece of work: ``check()`` (which raises to refuse), then the lock
    (:class:`StoreLock`, unless ``locked``: the caller holds it), then ``check()`` again under
    the lock (another run may have changed the store meanwhile); released on exit.

    Everything that can refuse the work happens before the block runs, so a caller that starts
    a cluster inside it starts none for work that cannot go ahead.
    """
    check()
    with contextlib.nullcontext() if locked else StoreLock(store):
        check()
        yield
