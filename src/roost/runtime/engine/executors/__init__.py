"""Executors: where an attempt's code runs -- inline in the controller, in a worker process, on a
warm replica of a reusable environment, as a Ray task or on a Ray actor.

Each implements ``contract.Executor``: ``run(attempt, report)`` returns the attempt's packed outputs
or raises what ended it, enforcing ``max_runtime`` the way its isolation allows.
"""

from roost.runtime.engine.executors.contract import Attempt, AttemptReport, Executor

__all__ = ["Attempt", "AttemptReport", "Executor"]
