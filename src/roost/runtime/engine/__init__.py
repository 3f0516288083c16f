"""The engine of a run: the controller owns the action tree, passes each action through its policies
and hands each attempt, resolved, to an executor. Nothing here runs inside a worker."""
