"""Deployment order: environments after everything they ``depends_on``."""

from __future__ import annotations

from roost.spec.environment import Environment


def deployment_order(*envs: Environment) -> list[Environment]:
    """Every environment reachable from ``envs`` through ``depends_on``, dependencies first.

    Raises ValueError naming the cycle (``a -> b -> a``) when the dependencies loop, and when two
    different environment objects share one name.
    """
    order: list[Environment] = []
    done: set[int] = set()
    by_name: dict[str, Environment] = {}

    def visit(env: Environment, path: list[Environment]) -> None:
        if id(env) in done:
            return
        if any(e is env for e in path):
            start = next(i for i, e in enumerate(path) if e is env)
            cycle = [e.name for e in path[start:]] + [env.name]
            raise ValueError(f"Environment dependencies form a cycle: {' -> '.join(cycle)}")
        other = by_name.get(env.name)
        if other is not None and other is not env and other != env:
            raise ValueError(
                f"Duplicate environment name {env.name!r}: two different environments share it "
                "(is a module imported twice, once as __main__?)"
            )
        by_name[env.name] = env
        path.append(env)
        for dep in env.depends_on:
            visit(dep, path)
        path.pop()
        done.add(id(env))
        order.append(env)

    for env in envs:
        if not isinstance(env, Environment):
            raise TypeError(f"Expected Environment, got {type(env).__name__}")
        visit(env, [])
    return order
