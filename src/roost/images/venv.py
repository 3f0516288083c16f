"""One image virtualenv on disk: built with uv, atomically, once, under a file lock.

Layout: ``<root>/<key>/`` (see ``local.venv_key``) is a complete virtualenv with a ``roost-image.json``
marker (the key and the Python it was built for). It is built in ``<root>/.<key>-XXXX/venv``
(``uv venv --relocatable``, so the rename keeps its scripts working) and renamed into place only once
every package is installed and the marker written: a reader either finds a finished virtualenv or
none. ``<root>/.<key>.lock`` is held while building, so a second process waits and then finds
the first one's result instead of building again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from roost.errors import ImageBuildError
from roost.images.installs import find_uv, pip_option_args, poetry_requirements, script_dependencies
from roost.spec import image_layers as L
from roost.store.secret_store import SecretStore

MARKER = "roost-image.json"
PTH_NAME = "_roost_controller.pth"
OutputSink = Callable[[str], None]

_TAIL_LINES = 6


def bin_of(folder: Path) -> Path:
    return folder / "bin"


def python_of(folder: Path) -> Path:
    return bin_of(folder) / "python"


def _python_tag() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def site_packages(folder: Path) -> Path:
    return folder / "lib" / f"python{_python_tag()}" / "site-packages"


def is_ready(folder: Path, key: str) -> bool:
    """Whether ``folder`` is a finished virtualenv of this key for the running Python."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("key") == key and marker.get("python") == _python_tag() and python_of(folder).exists()


def pth_text() -> str:
    """The ``.pth`` that makes roost (and what it imports) visible in an image's virtualenv.

    Plain lines append roost's own folder; ``site.addsitedir`` lines append the controller's
    site-packages *and* run their ``.pth`` files (editable installs live there). Both come after
    the virtualenv's own site-packages, so a package the image installs wins over the controller's.
    """
    roost_parent = str(Path(__file__).resolve().parents[2])
    dirs = [*site.getsitepackages()]
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user_site and os.path.isdir(user_site):
        dirs.append(user_site)
    lines = ["# written by roost: the controller's packages, after this virtualenv's own", roost_parent]
    lines += [f"import site; site.addsitedir({d!r})" for d in dict.fromkeys(dirs) if os.path.isdir(d)]
    return "\n".join(lines) + "\n"


def _write_pth(folder: Path) -> None:
    path = site_packages(folder) / PTH_NAME
    text = pth_text()
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    # Another controller (another venv of roost) may share ROOST_HOME: its paths replace ours
    # atomically, so a starting worker never reads half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".roost-pth-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def startup_path(python: str) -> tuple[str, ...]:
    """The ``sys.path`` ``python`` has by itself (its stdlib, its site-packages, what .pth files add)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH")}
    code = "import json, sys; print(json.dumps(sys.path[1:]))"  # [0] is the '' that -c adds
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise ImageBuildError(f"the virtualenv interpreter {python} does not start: {e}") from None
    return tuple(json.loads(out.stdout))


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def ensure(
    root: Path, key: str, installs: tuple[L.Layer, ...], on_output: OutputSink | None = None
) -> tuple[Path, bool]:
    """The virtualenv of ``key`` under ``root``: (its folder, whether this call built it)."""
    folder = root / key
    if not is_ready(folder, key):
        root.mkdir(parents=True, exist_ok=True)
        with _file_lock(root / f".{key}.lock"):
            if not is_ready(folder, key):  # nobody built it while this process waited
                _build(root, folder, key, installs, on_output)
                return folder, True
    _write_pth(folder)
    return folder, False


def _build(root: Path, folder: Path, key: str, installs: tuple[L.Layer, ...], on_output: OutputSink | None) -> None:
    uv = find_uv()
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        fresh = work / "venv"
        _uv([uv, "venv", "--relocatable", "--python", sys.executable, str(fresh)], "create the virtualenv", on_output)
        _write_pth(fresh)
        python = str(python_of(fresh))
        for number, layer in enumerate(installs):
            _install(uv, python, layer, work / f"layer-{number}", root.parent, on_output)
        marker = {"key": key, "python": _python_tag(), "built_at": time.time(), "by": sys.executable}
        (fresh / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
        if folder.exists():  # a stale one: unfinished, or built for another Python
            os.rename(folder, work / "stale")
        os.rename(fresh, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _install(uv: str, python: str, layer: L.Layer, scratch: Path, home: Path, on_output: OutputSink | None) -> None:
    """One layer's packages, installed the way its Dockerfile step installs them."""
    pip = [uv, "pip", "install", "--python", python, *pip_option_args(layer)]
    env = _secret_env(layer, home)
    scratch.mkdir()
    if isinstance(layer, L.PipPackages):
        if layer.packages:
            _uv([*pip, *layer.packages], ", ".join(layer.packages), on_output, env)
    elif isinstance(layer, L.UVScript):
        deps = script_dependencies(layer)
        if deps:
            _uv([*pip, *deps], f"the dependencies of {layer.script.name}", on_output, env)
    elif isinstance(layer, L.LocalV2Plugins):
        _uv([*pip, *layer.plugins], ", ".join(layer.plugins), on_output, env)
    elif isinstance(layer, L.Requirements):
        _uv([*pip, "-r", str(layer.file)], str(layer.file), on_output, env)
    elif isinstance(layer, (L.UVProject, L.PoetryProject)):
        pinned = scratch / "requirements.txt"
        if isinstance(layer, L.UVProject):
            # uv exports the lock as pinned requirements (a copy, so a custom uvlock= path works too).
            shutil.copy(layer.pyproject, scratch / "pyproject.toml")
            shutil.copy(layer.uvlock, scratch / "uv.lock")
            export = [uv, "export", "--frozen", "--no-hashes", "--no-header", "--no-emit-project"]
            _uv([*export, "--project", str(scratch), "--output-file", str(pinned)], f"export {layer.uvlock}", on_output)
        else:
            pinned.write_text(poetry_requirements(layer.poetry_lock))
        _uv([*pip, "-r", str(pinned)], f"the locked dependencies of {layer.pyproject}", on_output, env)
        if layer.project_install_mode == "install_project":
            project = layer.pyproject.parent
            _uv([*pip, "--no-deps", str(project)], f"the project {project}", on_output, env)


def _secret_env(layer: L.Layer, home: Path) -> dict[str, str] | None:
    """The secrets a layer mounts, as the variables its install step sees (as in the Dockerfile)."""
    secrets = getattr(layer, "secret_mounts", ())
    if not secrets:
        return None
    store = SecretStore(home=home)
    env: dict[str, str] = {}
    for secret in secrets:
        if secret.as_env_var:
            env[secret.as_env_var] = store.resolve(secret)
    return env


def _uv(args: list[str], what: str, on_output: OutputSink | None, extra_env: Mapping[str, str] | None = None) -> None:
    env = {**os.environ, **(extra_env or {})}
    env.pop("VIRTUAL_ENV", None)  # the target is named with --python; an active venv must not confuse uv
    tail: list[str] = []
    try:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env
        )
    except OSError as e:
        raise ImageBuildError(f"cannot run uv ({args[0]}): {e.strerror}") from None
    with process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            if line.strip():
                tail = [*tail[-(_TAIL_LINES - 1) :], line.strip()]
            if on_output is not None:
                on_output(line)
        code = process.wait()
    if code != 0:
        said = " | ".join(tail) or "no output"
        raise ImageBuildError(f"uv could not install {what} (exit {code}): {said}")
