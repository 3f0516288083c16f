"""Rerunning an ended run of the server: its kept submission sent again, as a new run.

A run the server started left its submission in ``finished-submissions/`` (``submissions.py``): the
code bundle, module, task, inputs and the client's run settings, variables included. A rerun is that
submission under a new name (``NAME-r1``, ``-r2``, ...), recorded as a rerun of the first run and as
asked for by the caller; with ``recover`` the actions that succeeded in the first run are not run
again, their outputs reused (phase ``recovered``), as ``roost rerun --recover`` does for local runs.

Runs the server did not start (local runs, recorded here because they share the store) cannot be
rerun from here: their code is on the machine and in the environment that ran them.
"""

from __future__ import annotations

import dataclasses

from roost.runtime import messages
from roost.runtime.runs.runner import rerun_name
from roost.server.bundle_store import BundleStore
from roost.server.hosts import Hosts
from roost.server.submissions import Refused, Submissions
from roost.store.records import RunRecord
from roost.store.run_store import RunStore


class Reruns:
    def __init__(self, store: RunStore, submissions: Submissions, bundles: BundleStore, hosts: Hosts):
        self.store = store
        self.submissions = submissions
        self.bundles = bundles
        self.hosts = hosts

    def why_not(self, run: RunRecord) -> str | None:
        """Why ``run`` cannot be rerun from the server now, or None when it can."""
        if not run.phase.is_terminal:
            return "the run has not ended"
        if run.mode == "local":
            return f"a local run: rerun it where it ran, with `roost rerun {run.name}`"
        submission = self.submissions.finished(run.name)
        if submission is None:
            return "this server no longer keeps what was submitted for it (only the newest runs are kept)"
        if submission.options.get("mode") == "hybrid":
            return "a hybrid run: its root action ran in the client that started it"
        if submission.bundle is not None and not self.bundles.has(submission.bundle):
            return "its code bundle is gone from this server"
        return None

    async def rerun(self, source: str, recover: bool, by: str) -> messages.RunAccepted:
        """Start a rerun of the run ``source``: its answer once recorded, or ``Refused`` saying why not."""
        run = self.store.get_run(source)
        if run is None:
            raise Refused(f"no run named {source!r}", 404)
        why = self.why_not(run)
        submission = self.submissions.finished(source) if why is None else None
        if submission is None:
            raise Refused(f"run {source} cannot be rerun here: {why or 'nothing of it is kept'}", 409)
        again = dataclasses.replace(
            submission,
            name=rerun_name(self.store, source),
            resume=False,
            trigger=None,  # not a firing: a person asked for it
            rerun_of=source,
            recover=recover,
            started_by=by,
        )
        return await self.submissions.start(self.hosts, again)
