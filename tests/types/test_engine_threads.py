"""The type engine fills its registry of builtin transformers once, even when threads race to use it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A fresh interpreter: in this one the registry is long filled.
PROGRAM = textwrap.dedent(
    """
    import logging
    import threading

    from roost.types.engine import TypeEngine

    warnings = []
    logging.getLogger("roost").addHandler(type("H", (logging.Handler,), {"emit": lambda s, r: warnings.append(r)})())
    barrier = threading.Barrier(8)
    kinds = []

    def convert():
        barrier.wait()
        kinds.append(TypeEngine.get_transformer(int).name)

    threads = [threading.Thread(target=convert) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(kinds)) == 1 and len(kinds) == 8, kinds
    assert not warnings, [w.getMessage() for w in warnings]
    """
)


def test_threads_racing_for_the_first_conversion_all_see_the_builtins():
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
