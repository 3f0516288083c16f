"""The ``roost`` command line: run tasks, watch and inspect runs, abort them (the top layer: nothing
in roost imports it)."""
