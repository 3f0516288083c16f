"""Execution: the controller that owns a run's action tree, its policies, executors and workers."""
