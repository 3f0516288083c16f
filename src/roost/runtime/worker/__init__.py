"""The inside of a worker: the template process that forks workers, a worker's loop, what it applies
to itself before running code, and the code that runs actions inside Ray. None of it imports the
engine: everything from the controller arrives as a typed message."""
