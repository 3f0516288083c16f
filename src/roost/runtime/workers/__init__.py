"""Worker processes: a template process per interpreter forks one worker per action (or per reusable
replica); the controller and its workers talk over Unix sockets in length-prefixed msgpack frames."""
