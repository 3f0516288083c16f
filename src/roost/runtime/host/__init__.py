"""The controller's side of worker processes: the template process per interpreter, the connection
to each worker, and the cgroups that enforce their limits."""
