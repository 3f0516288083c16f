"""The compiled task spec: what a task and its environment resolve to before anything runs.

These are the objects of Flyte's task-spec model (``flytekit.core.resources`` and friends), importable as
``roost.core.resources``, ``roost.core.container`` and ``roost.core.k8s_pod``. Every executor consumes
a ``TaskSpec`` (``roost.core.task_spec``), never the declarations directly.
"""
