"""Serialized caching (``Cache(serialize=True)``): identical actions running at the same time -- in one
run, in two runs of one process, or in two processes -- execute once; the others wait and take the
result.

The protocol, over the ``cache_reservations`` table of the shared store:

1. Look the key up; a usable entry ends it.
2. Try to insert a reservation row for the key (committed at once). Exactly one contender wins.
3. The winner looks up once more (a holder may have published between 1 and 2), then runs the
   task while a thread refreshes the row's heartbeat every ``heartbeat_interval()`` s. On success it
   stores the result and deletes its row in one transaction; on failure or cancellation it only
   deletes the row, and a waiter takes over and runs the task itself.
4. A loser waits and starts again at 1. A waiter on the holder's own event loop waits on the
   holder's event (no polling); any other waiter polls with a short exponential backoff.
5. A waiter that finds the holder's process dead (same host, pid gone) or its heartbeat older than
   ``RESERVATION_STALE_S`` replaces the row with its own (one transaction, so of several waiters
   only one takes over) and becomes the holder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import StoreError
from roost.store.cache_store import CacheStore
from roost.store.records import CacheEntry, CacheReservation

logger = logging.getLogger("roost")

# A holder that has not refreshed its heartbeat for this long is presumed dead (another host, or a
# hung process). A thread refreshes it five times per period, so a busy holder never looks dead.
RESERVATION_STALE_S = 5.0
POLL_FIRST_S = 0.005
POLL_MAX_S = 0.1

HOST = socket.gethostname()


def heartbeat_interval() -> float:
    return RESERVATION_STALE_S / 5


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    except OSError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet still answers kill(pid, 0), but it will
    never release anything: on Linux, /proc says so."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may itself contain ") ".
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"


def is_stale(reservation: CacheReservation, now: float) -> bool:
    if reservation.host == HOST and not pid_alive(reservation.pid):
        return True  # its process is gone: no need to wait for the heartbeat to age
    return now - reservation.heartbeat_at > RESERVATION_STALE_S


@dataclass
class _LocalHold:
    """A reservation held by this process, so waiters on the same loop can wait without polling."""

    loop: asyncio.AbstractEventLoop
    released: asyncio.Event = field(default_factory=asyncio.Event)


# Process-wide, so that two runs in one process serialize without polling too.
_local_holds: dict[tuple[Path, str], _LocalHold] = {}


class _Heartbeats:
    """One thread refreshes every reservation this process holds, whatever its event loops are doing:
    an async task that computes for a minute without awaiting blocks its loop, and a heartbeat on
    that loop would go silent and let another process run the same task. The thread exits when
    nothing is held and is started again by the next hold."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, Hold] = {}
        self._thread: threading.Thread | None = None

    def add(self, hold: Hold) -> None:
        with self._lock:
            self._held[id(hold)] = hold
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="roost-cache-heartbeat", daemon=True)
                self._thread.start()

    def remove(self, hold: Hold) -> None:
        with self._lock:
            self._held.pop(id(hold), None)

    def _run(self) -> None:
        while True:
            time.sleep(heartbeat_interval())
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
                holds = list(self._held.values())
            by_store: dict[int, list[Hold]] = {}
            for hold in holds:
                by_store.setdefault(id(hold.store.runs), []).append(hold)
            for group in by_store.values():
                self._beat(group)

    def _beat(self, holds: list[Hold]) -> None:
        try:
            lost = holds[0].store.heartbeat([(h.key, h.holder) for h in holds], time.time())
        except StoreError as e:
            logger.warning("could not refresh %d cache reservation(s): %s", len(holds), e)
            return
        for hold in holds:
            if (hold.key, hold.holder) in lost:
                # Presumed dead by another process, which now runs the task too; nothing to undo.
                logger.warning("the cache reservation of %s was taken over by another process", hold.holder)
                self.remove(hold)


_heartbeats = _Heartbeats()


class Hold:
    """A reservation this action holds: kept alive while the task runs, then ended with ``end``."""

    def __init__(self, store: CacheStore, key: str, holder: str):
        self.store = store
        self.key = key
        self.holder = holder
        self._local = _local_holds[(store.runs.path, key)] = _LocalHold(asyncio.get_running_loop())
        _heartbeats.add(self)

    def end(self, entry: CacheEntry | None) -> None:
        """Publish ``entry`` (None after a failure) and give the reservation up. Never raises a
        StoreError: the action's own outcome is already decided, and a lost cache write only costs a
        later call a run."""
        _heartbeats.remove(self)
        try:
            if entry is not None:
                self.store.publish(entry, self.holder)
            else:
                self.store.release(self.key, self.holder)
        except StoreError as e:
            logger.warning("could not store the cache result of %s: %s", self.holder, e)
        finally:
            slot = (self.store.runs.path, self.key)
            if _local_holds.get(slot) is self._local:
                del _local_holds[slot]
            self._local.released.set()


async def reserve_or_wait(store: CacheStore, key: str, holder: str, lookup: Callable[[], bytes | None]) -> bytes | Hold:
    """Outputs for ``key`` that another holder produced, or the reservation to produce them ourselves."""
    slot = (store.runs.path, key)
    delay = POLL_FIRST_S
    loop = asyncio.get_running_loop()
    pid = os.getpid()
    while True:
        found = lookup()
        if found is not None:
            return found
        local = _local_holds.get(slot)
        if local is not None and local.loop is loop:
            await local.released.wait()
            continue
        now = time.time()
        taken = store.reserve(key, holder, HOST, pid, now)
        if not taken:
            current = store.reservation(key)
            if current is None:
                continue  # released between our insert and our read: try again at once
            if is_stale(current, now):
                logger.info("taking over the cache reservation of %s (holder %s is gone)", key, current.holder)
                taken = store.take_over(key, current.holder, holder, HOST, pid, now)
        if taken:
            hold = Hold(store, key, holder)
            found = lookup()  # published between our lookup and our reservation
            if found is not None:
                hold.end(None)
                return found
            return hold
        await asyncio.sleep(delay)
        delay = min(delay * 2, POLL_MAX_S)
