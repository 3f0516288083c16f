"""Runs as a program sees them: ``init``, ``run``/``with_runcontext``/``rerun``, and the ``Run`` and
``Action`` handles over the run store."""
