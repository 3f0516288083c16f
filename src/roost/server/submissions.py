"""What the server keeps of each run it was sent until the run ends: enough to start it again.

A run's bundle host may die with it (the machine rebooted, the host was killed). The run store has
the run's record and every action that finished; what it does not have is the submission -- its
code bundle, module, task and the client's run settings (variables included, which the store keeps
by name only). The server keeps each submission in ROOST_HOME/server/submissions/<run> (mode 0600)
from before its host is asked to start it until the host says it ended. At start, and every
``SWEEP_S`` after, the server looks at those left: a run that ended meanwhile is forgotten, a run
whose host is gone is resumed under its own name -- what succeeded is not run again.

When a run ends its submission moves to ``server/finished-submissions/`` (the newest ``KEEP_FINISHED`` are
kept): what the console's **Rerun** sends again (``reruns.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from roost.runtime import messages
from roost.runtime.ids import check_run_name, new_run_name
from roost.runtime.runs.run_liveness import controller_gone
from roost.server.hosts import HostGone, Hosts
from roost.store.run_store import RunStore

logger = logging.getLogger("roost.server")

SWEEP_S = 30.0
# The submissions of ended runs kept for reruns: the newest this many (pruned a few dozen at a time).
KEEP_FINISHED = 1000
_PRUNE_SLACK = 50


class Refused(Exception):
    """A run that did not start: ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Submissions:
    def __init__(self, home: Path, keep_finished: int = KEEP_FINISHED):
        self.folder = home / "server" / "submissions"
        self.finished_folder = home / "server" / "finished-submissions"
        self.keep_finished = keep_finished

    def keep(self, submission: messages.SubmitRun) -> bool:
        """Keep it, complete or not at all; False when a submission of that name is kept already."""
        assert submission.name
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / submission.name
        tmp = path.with_name(f".{submission.name}.{os.getpid()}.{id(submission)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(messages.encode(submission))
            os.link(tmp, path)  # atomic, and never over another run's submission
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    async def start(self, hosts: Hosts, submission: messages.SubmitRun) -> messages.RunAccepted:
        """Keep ``submission`` (named now if it has no name) and hand it to its bundle's host: its
        answer once the run is recorded, or ``Refused``."""
        if submission.name is None:
            submission.name = new_run_name()
        name = submission.name
        # Kept until it ends, to resume it if its host dies; a name kept already is another run's.
        if not await asyncio.to_thread(self.keep, submission):
            raise Refused(f"a run named {name!r} exists already", 409)
        try:
            answer = await hosts.submit(submission)
        except HostGone as e:
            self.drop(name)
            raise Refused(f"{e}: see the server log", 503) from None
        if isinstance(answer, messages.RunRefused):
            self.drop(name)  # ours: a name another run holds was refused above
            raise Refused(answer.error.message, answer.status)
        return answer

    def drop(self, name: str) -> None:
        """Forget a submission that never became a run (or whose run is gone from the store)."""
        with contextlib.suppress(OSError):
            (self.folder / name).unlink()

    def finish(self, name: str) -> None:
        """The run ended: its submission moves to ``finished-submissions/``, where a rerun finds it."""
        try:
            check_run_name(name)
            self.finished_folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.replace(self.folder / name, self.finished_folder / name)
        except (OSError, ValueError):
            return  # not ours, or moved already (the host said so, and the sweep saw it ended)
        self._prune()

    def _prune(self) -> None:
        try:
            entries = list(os.scandir(self.finished_folder))
        except OSError:
            return
        if len(entries) <= self.keep_finished + _PRUNE_SLACK:
            return
        entries.sort(key=lambda e: e.stat().st_mtime if e.is_file() else 0.0)
        for entry in entries[: len(entries) - self.keep_finished]:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)

    def finished(self, name: str) -> messages.SubmitRun | None:
        """The submission of the ended run ``name``, if it is kept (ask only for runs that ended)."""
        try:
            check_run_name(name)
            path = self.finished_folder / name
            if not path.exists():  # ended a moment ago: its host has not said so yet
                path = self.folder / name
            submission = messages.decode(path.read_bytes())
        except (OSError, ValueError, messages.ProtocolError):
            return None
        return submission if isinstance(submission, messages.SubmitRun) and submission.name == name else None

    def kept(self) -> list[messages.SubmitRun]:
        """The submissions of runs not known to have ended (an unreadable file is left, said once)."""
        found = []
        for path in sorted(self.folder.glob("*")) if self.folder.is_dir() else []:
            if path.name.startswith("."):
                continue
            try:
                check_run_name(path.name)
                submission = messages.decode(path.read_bytes())
            except (OSError, ValueError, messages.ProtocolError) as e:
                logger.warning("cannot read the kept submission %s (%s): set aside as .bad-%s", path, e, path.name)
                with contextlib.suppress(OSError):
                    path.rename(path.with_name(f".bad-{path.name}"))
                continue
            if isinstance(submission, messages.SubmitRun) and submission.name == path.name:
                found.append(submission)
        return found


async def sweep(submissions: Submissions, store: RunStore, hosts: Hosts) -> None:
    """Forget the kept submissions of runs that ended; resume those whose host is gone."""
    for submission in submissions.kept():
        name = submission.name
        assert name is not None
        record = await asyncio.to_thread(store.get_run, name)
        if record is None:
            submissions.drop(name)
        elif record.phase.is_terminal:
            submissions.finish(name)
        elif controller_gone(record):
            logger.info("run %s lost its bundle host: resuming it", name)
            submission.resume = True
            try:
                answer = await hosts.submit(submission)
            except Exception as e:  # the next sweep tries again
                logger.error("run %s could not be resumed now: %s", name, e)
                continue
            if isinstance(answer, messages.RunRefused):
                logger.error("run %s cannot be resumed: %s", name, answer.error.message)
                submissions.drop(name)


async def keep_sweeping(submissions: Submissions, store: RunStore, hosts: Hosts) -> None:
    while True:
        try:
            await sweep(submissions, store, hosts)
        except Exception:
            logger.exception("resuming the runs of dead bundle hosts failed; trying again in %.0f s", SWEEP_S)
        await asyncio.sleep(SWEEP_S)
