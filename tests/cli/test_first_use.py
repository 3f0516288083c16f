"""What a new user trips on first: an unknown option, a group without its command, the help of a
File input, and log records shown once."""

from __future__ import annotations

import textwrap

from cli_helpers import one_error_line, read_store


def test_an_unknown_run_option_is_named_as_an_option(roost, prog, home):
    result = roost("run", "--bogus", str(prog), "main")
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "No such option" in line and "--bogus" in line
    assert "file or module" not in line
    assert read_store(home).list_runs() == []


def test_a_group_without_its_command_prints_its_help(roost):
    result = roost("get", entry=True)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Usage: roost get")
    assert "Error" not in result.stderr
    # The commands are listed one a line, as click's help shows them.
    commands = [line.split()[0] for line in lines[lines.index("Commands:") + 1 :] if line.strip()]
    assert {"runs", "run", "logs", "action", "io"} <= set(commands)


FILES = textwrap.dedent(
    """
    import roost as flyte
    from roost.io import Dir, File

    env = flyte.TaskEnvironment(name="files")


    @env.task
    async def size(f: File, d: Dir | None = None) -> int:
        with open(f.path) as fh:
            return len(fh.read())
    """
)


def test_a_file_input_says_it_takes_a_path_and_takes_one(roost, tmp_path):
    (tmp_path / "files.py").write_text(FILES)
    (tmp_path / "hello.txt").write_text("hello")
    help_text = roost("run", "files.py", "size", "--help").stdout
    f_line = next(line for line in help_text.splitlines() if line.strip().startswith("--f "))
    d_line = next(line for line in help_text.splitlines() if line.strip().startswith("--d "))
    assert "file path or URL" in f_line and "JSON" not in f_line
    assert "directory path or URL" in d_line and "JSON" not in d_line
    result = roost("run", "--no-live", "files.py", "size", "--f", "hello.txt")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "5"


LOGGING = textwrap.dedent(
    """
    import logging

    import roost as flyte

    inline = flyte.TaskEnvironment(name="inline")
    isolated = flyte.TaskEnvironment(name="isolated", env_vars={"WHERE": "worker"})


    @isolated.task
    async def leaf(x: int) -> int:
        logging.getLogger("leafy").warning("leaf record %d", x)
        return x


    @inline.task
    async def main() -> int:
        logging.getLogger("mainly").warning("main record")
        return await leaf(7)
    """
)


def test_a_logging_record_is_recorded_and_shown_once(roost, tmp_path, home):
    """With no handler of the user's, a warning still reaches stderr (logging's last resort), but is
    stored once: as the log record, not again as the stderr line that the last resort prints."""
    (tmp_path / "logs.py").write_text(LOGGING)
    result = roost("run", "--no-live", "--name", "logged", "logs.py", "main")
    assert result.returncode == 0, result.stderr
    assert "main record" in result.stderr  # still printed where it always was
    out = roost("get", "logs", "logged").stdout
    assert out.count("main record") == 1, out
    assert out.count("leaf record 7") == 1, out
    lines = read_store(home).list_logs("logged")
    assert [(g.stream, g.line) for g in lines if "record" in g.line] == [
        ("log", "WARNING mainly: main record"),
        ("log", "WARNING leafy: leaf record 7"),
    ]
