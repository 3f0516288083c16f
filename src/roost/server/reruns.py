"""Rerunning an ended run of the server: its kept submission sent again, as a new run.

A run the server started left its submission in ``finished-submissions/`` (``submissions.py``): the
code bundle, module, task, inputs and the client's run settings, variables included. A rerun is that
submission under a new name (``NAME-r1``, ``-r2``, ...), recorded as a rerun of the first run and as
asked for by the caller; with ``recover`` the actions that succeeded in the first run are not run
again, their outputs reused (phase ``recovered``), as ``roost rerun --recover`` does for local runs.

A local run (a ``flyte.run`` of a script on this machine, recorded here because it shares the store)
kept no submission, but its record says where its task is defined: when that is a script file still
on this machine, the rerun is sent as a submission of that file (no code bundle: the server's own
bundle host imports it), with the run's recorded inputs. It cannot be rerun here when its task was
imported by dotted name (the server does not know the folder it was imported from), when the file is
gone, or when it ran with variables (the store keeps their names only: the values were the process's).
"""

from __future__ import annotations

import json
import os
from typing import Any

from roost.runtime import messages
from roost.runtime.ids import ROOT_ACTION
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
            found = self.local_source(run)
            return None if isinstance(found, messages.SubmitRun) else found
        submission = self.submissions.finished(run.name)
        if submission is None:
            return "this server no longer keeps what was submitted for it (only the newest runs are kept)"
        if submission.options.get("mode") == "hybrid":
            return "a hybrid run: its root action ran in the client that started it"
        if submission.bundle is not None and not self.bundles.has(submission.bundle):
            return "its code bundle is gone from this server"
        return None

    def local_source(self, run: RunRecord) -> messages.SubmitRun | str:
        """A local run as a submission of its script, or why it cannot be one."""
        where = f"rerun it where it ran, with `roost rerun {run.name}`"
        module = run.task_module
        if not module:
            return f"a local run that does not record where its task is defined: {where}"
        if not module.endswith(".py"):
            return f"a local run of {module}, imported by name where it ran (this server cannot import it): {where}"
        if not os.path.isfile(module):
            return f"a local run of {module}, which is not on this machine any more"
        try:
            options = json.loads(run.options or "{}")
        except ValueError:
            options = {}
        variables = [n for n in options.get("env_var_names") or [] if isinstance(n, str)]
        if variables:
            names = ", ".join(variables[:5])
            return f"a local run with variables ({names}) whose values only its own process had: {where}"
        root = self.store.get_action(run.name, ROOT_ACTION)
        submitted: dict[str, Any] = {}
        if isinstance(options.get("max_action_concurrency"), int):
            submitted["max_action_concurrency"] = options["max_action_concurrency"]
        return messages.SubmitRun(
            name=None,
            bundle=None,  # the server's own host, which imports the script by its path
            module=module,
            task=run.task_name,
            inputs=run.inputs or b"",
            inputs_hash=(root.inputs_hash if root is not None else None) or "",
            options=submitted,
        )

    async def rerun(self, source: str, recover: bool, by: str) -> messages.RunAccepted:
        """Start a rerun of the run ``source``: its answer once recorded, or ``Refused`` saying why not."""
        run = self.store.get_run(source)
        if run is None:
            raise Refused(f"no run named {source!r}", 404)
        why = self.why_not(run)
        if why is not None:
            submission = None
        elif run.mode == "local":
            found = self.local_source(run)
            submission = found if isinstance(found, messages.SubmitRun) else None
        else:
            submission = self.submissions.finished(source)
        if submission is None:
            raise Refused(f"run {source} cannot be rerun here: {why or 'nothing of it is kept'}", 409)
        again = messages.replace(
            submission,
            name=rerun_name(self.store, source),
            resume=False,
            trigger=None,  # not a firing: a person asked for it
            rerun_of=source,
            recover=recover,
            started_by=by,
        )
        return await self.submissions.start(self.hosts, again)
