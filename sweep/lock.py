"""One sweep per store at a time: a lock file beside the store.

The lock is ``<store>.lock`` (beside the store, so ``--overwrite`` cannot delete it) holding
JSON ``{"pid", "host", "started"}``. It is created with O_CREAT|O_EXCL. A lock whose PID is
dead on this host is stale and is taken over; a lock from another host is never broken (delete
the file by hand once sure that run is gone).

Limitation: stores given as URLs (s3://, http://) are not locked; two runs on one remote store
at once are the user's responsibility (a later issue can add a lock object beside the store).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import socket
from pathlib import Path

from .store import StoreError, is_url

log = logging.getLogger(__name__)


class LockedError(StoreError):
    """Another live run holds the store."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class StoreLock:
    """Context manager holding ``<store>.lock``; no-op (with a warning) for URL stores."""

    def __init__(self, store: str):
        self.store = str(store)
        self.path = None if is_url(self.store) else Path(self.store.rstrip("/") + ".lock")
        self.held = False

    def _owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}  # being written by its owner right now, or garbage: treat as held

    def acquire(self) -> None:
        if self.path is None:
            log.warning("%s: remote stores are not locked; do not run two sweeps on it at once",
                        self.store)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None:
                    continue  # released meanwhile: try again
                if (owner.get("host") == me["host"] and isinstance(owner.get("pid"), int)
                        and not _pid_alive(owner["pid"])):
                    log.warning("%s: taking over stale lock of dead PID %d", self.store,
                                owner["pid"])
                    self.path.unlink(missing_ok=True)
                    continue
                raise LockedError(
                    f"{self.store}: another run holds the store (lock {self.path}: "
                    f"PID {owner.get('pid', '?')} on {owner.get('host', '?')} since "
                    f"{owner.get('started', '?')}); if that run is gone, delete the lock file"
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return
        raise LockedError(f"{self.store}: could not take the lock {self.path}")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
