"""What task code calls while it runs, wherever it runs: ``ctx()``, task calls, ``flyte.map``,
``@flyte.trace``, reports, checkpoints, and the capture of its output."""
