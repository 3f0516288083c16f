"""Running tasks, by role (docs/architecture.md draws an action's trip through them):

- ``runs/``: what a program calls to start and follow runs -- ``flyte.run``, ``init``, ``Run`` and
  ``Action`` handles.
- ``engine/``: the controller of a run, its policies (cache, retries, deadline, admission) and its
  executors (inline, process, pool, Ray), which get one resolved ``Attempt`` each.
- ``host/``: the controller's side of a worker process: starting it, talking to it, its limits.
- ``worker/``: the inside of a worker: the template that forks it, its loop, its setup, the Ray worker.
- ``task_api/``: what task code calls: ``ctx()``, task calls, ``flyte.map``, ``trace``, reports,
  checkpoints, captured logs.
- here: what they all share -- the typed messages between processes and their framing, packed
  values, task references, ids, the runtime loop.
"""
