"""Dockerfile rendering: one golden file per layer kind, compared exactly, plus the build context.

To regenerate the golden files after an intended change, run

    ROOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/images/test_dockerfile.py

and review the diff of tests/images/golden/ before committing it.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import ImageBuildError
from roost.images.context import write_context
from roost.images.dockerfile import render
from roost.images.installs import poetry_requirements
from roost.spec import image_layers as L

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ROOST_UPDATE_GOLDEN") == "1"

Image = flyte.Image
Secret = flyte.Secret


def base() -> Image:
    return Image.from_base("python:3.12-slim").clone(name="app", registry="reg.example.com", extendable=True)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


POETRY_LOCK = """
[[package]]
name = "requests"
version = "2.32.3"
optional = false
groups = ["main"]

[[package]]
name = "colorama"
version = "0.4.6"
optional = false
groups = ["main"]
markers = "sys_platform == \\"win32\\""

[[package]]
name = "pytest"
version = "8.3.0"
optional = false
groups = ["dev"]

[[package]]
name = "tool"
version = "1.0"
optional = false
groups = ["main"]

[package.source]
type = "git"
url = "https://example.com/tool.git"
reference = "main"
resolved_reference = "abc123"

[[package]]
name = "extra-only"
version = "1.0"
optional = true
groups = ["main"]
"""


def project(folder: Path, lock: str = "uv.lock") -> Path:
    write(folder / "pyproject.toml", '[project]\nname = "proj"\nversion = "0.1"\ndependencies = ["requests"]\n')
    write(folder / lock, "version = 1\n")
    write(folder / "proj" / "__init__.py", "")
    write(folder / ".dockerignore", "*.log\n")
    write(folder / "debug.log", "noise\n")
    return folder / "pyproject.toml"


def case_debian_base(tmp: Path) -> Image:
    return Image.from_debian_base(python_version=(3, 11), install_flyte=False, name="base")


def case_released_default_clone(tmp: Path) -> Image:
    return Image.from_debian_base(python_version=(3, 11)).clone(name="mine").with_pip_packages("numpy")


def case_existing_base(tmp: Path) -> Image:
    return Image.from_base("python:3.12-slim")


def case_pip_packages(tmp: Path) -> Image:
    return base().with_pip_packages(
        "numpy>=1.26,<2",
        "pandas",
        index_url="https://pypi.example.com/simple",
        extra_index_urls=["https://extra.example.com/simple"],
        pre=True,
        extra_args="--no-build-isolation",
    )


def case_pip_packages_with_secrets(tmp: Path) -> Image:
    secrets = [Secret(key="GITHUB_PAT", as_env_var="GITHUB_PAT_ENV"), Secret(key="ca-cert", mount="/etc/flyte/secrets")]
    return base().with_pip_packages("private-package", secret_mounts=secrets)


def case_requirements(tmp: Path) -> Image:
    return base().with_requirements(write(tmp / "reqs" / "requirements.txt", "requests==2.32.3\n"))


def case_uv_project(tmp: Path) -> Image:
    return base().with_uv_project(project(tmp / "proj"))


def case_uv_project_install(tmp: Path) -> Image:
    return base().with_uv_project(project(tmp / "proj"), project_install_mode="install_project", pre=True)


def case_poetry_project(tmp: Path) -> Image:
    pyproject = project(tmp / "poetry", lock="poetry.lock")
    (tmp / "poetry" / "poetry.lock").write_text(textwrap.dedent(POETRY_LOCK))
    return base().with_poetry_project(pyproject, extra_args="--no-deps")


def case_poetry_project_install(tmp: Path) -> Image:
    pyproject = project(tmp / "poetry", lock="poetry.lock")
    (tmp / "poetry" / "poetry.lock").write_text(textwrap.dedent(POETRY_LOCK))
    return base().with_poetry_project(pyproject, project_install_mode="install_project")


def case_uv_script(tmp: Path) -> Image:
    script = write(tmp / "job.py", '# /// script\n# dependencies = ["httpx>=0.27", "rich"]\n# ///\nprint("hi")\n')
    return Image.from_uv_script(script, name="job", python_version=(3, 12), registry="reg.example.com")


def case_apt_packages(tmp: Path) -> Image:
    return base().with_apt_packages("git", "curl", secret_mounts="APT_TOKEN")


def case_commands(tmp: Path) -> Image:
    return base().with_commands(
        ["mkdir -p /data", 'curl -H "Authorization: $TOKEN" https://e.com/x -o /data/x'], "TOKEN"
    )


def case_env_vars(tmp: Path) -> Image:
    return base().with_env_vars({"MODE": "prod", "PATH": "/opt/tools/bin:$PATH", "GREETING": 'say "hi" \\ bye'})


def case_workdir(tmp: Path) -> Image:
    return base().with_workdir("/srv/app")


def case_source_folder(tmp: Path) -> Image:
    write(tmp / "src" / "pkg" / "__init__.py", "X = 1\n")
    write(tmp / "src" / ".dockerignore", "*.tmp\n")
    write(tmp / "src" / "scratch.tmp", "ignored\n")
    return (
        base().with_workdir("/srv").with_source_folder(tmp / "src").with_source_folder(tmp / "src", "/opt/code", True)
    )


def case_source_files(tmp: Path) -> Image:
    files = [write(tmp / "a" / "main.py", "print(1)\n"), write(tmp / "b" / "util.py", "U = 1\n")]
    return base().with_source_file(files).with_source_file(tmp / "a" / "main.py", dst="/opt/bin")


def case_debian_user_and_source(tmp: Path) -> Image:
    """After the Debian base's user exists, copied files belong to it."""
    write(tmp / "src" / "app.py", "A = 1\n")
    return Image.from_debian_base(python_version=(3, 11), install_flyte=False, name="base").with_source_folder(
        tmp / "src"
    )


def case_code_bundle(tmp: Path) -> Image:
    return base().with_code_bundle(copy_style="all", dst="/root")


def case_dockerignore(tmp: Path) -> Image:
    write(tmp / "src" / "keep.py", "K = 1\n")
    write(tmp / "src" / "big.bin", "data\n")
    ignore = write(tmp / "ignores" / ".dockerignore", "*.bin\n")
    return base().with_dockerignore(ignore).with_source_folder(tmp / "src")


def case_local_v2(tmp: Path) -> Image:
    return base().with_local_v2()


def case_local_v2_plugins(tmp: Path) -> Image:
    return base().with_local_v2_plugins("flyteplugins-ray", "flyteplugins-spark")


def case_pixi_project(tmp: Path) -> Image:
    write(tmp / "pixi" / "pixi.toml", '[workspace]\nname = "p"\nchannels = ["conda-forge"]\nplatforms = ["linux-64"]\n')
    write(tmp / "pixi" / "pixi.lock", "version: 6\n")
    return base().with_pixi_project(tmp / "pixi", environment="cuda").with_pip_packages("requests")


def case_pixi_script(tmp: Path) -> Image:
    script = write(
        tmp / "sim.py",
        """
        # /// script
        # dependencies = ["requests>=2", "httpx[http2]"]
        # [tool.pixi]
        # channels = ["conda-forge", "nvidia"]
        # [tool.pixi.dependencies]
        # numpy = ">=2"
        # ///
        print("sim")
        """,
    )
    image = Image.from_pixi_script(script, name="sim", platform=("linux/amd64", "linux/arm64"))
    (layer,) = [la for la in image._layers if isinstance(la, L.PixiScript)]
    # The same layer on a base that does not follow the running Python, so the golden file does not.
    return base().clone(python_version=(3, 12), platform=image.platform, addl_layer=layer)


def case_dockerfile(tmp: Path) -> Image:
    dockerfile = write(tmp / "docker_ctx" / "Dockerfile", "FROM alpine:3.20\nRUN echo from-my-dockerfile\n")
    return Image.from_dockerfile(dockerfile, registry="reg.example.com", name="custom")


CASES: dict[str, Callable[[Path], Image]] = {
    name.removeprefix("case_"): fn for name, fn in globals().items() if name.startswith("case_")
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_dockerfile(name: str, tmp_path: Path):
    image = CASES[name](tmp_path)
    text = render(image).listing()
    golden = GOLDEN / f"{name}.Dockerfile"
    if UPDATE:
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden.name}: run with ROOST_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_text(), f"{golden.name} differs; if intended, regenerate (see the module doc)"


def test_every_layer_kind_has_a_golden_case(tmp_path: Path):
    kinds = {cls for cls in vars(L).values() if isinstance(cls, type) and issubclass(cls, L.Layer)}
    kinds -= {L.Layer, L._PipOptions}
    seen = set()
    for index, make in enumerate(CASES.values()):
        seen |= {type(layer) for layer in make(tmp_path / str(index))._layers}
    assert kinds - seen == set()


def test_secret_values_never_appear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GITHUB_PAT_ENV", "ghp-value-that-must-not-leak")
    text = render(case_pip_packages_with_secrets(tmp_path)).text
    assert "ghp-value" not in text
    assert "--mount=type=secret,id=GITHUB_PAT,env=GITHUB_PAT_ENV" in text
    assert "--mount=type=secret,id=ca-cert,target=/etc/flyte/secrets/ca-cert" in text


def test_the_build_context_is_written_with_dockerignore(tmp_path: Path):
    plan = render(case_source_folder(tmp_path))
    out = tmp_path / "ctx"
    out.mkdir()
    write_context(plan.context, out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "layer-01/src/.dockerignore",
        "layer-01/src/pkg/__init__.py",
        "layer-02/src/.dockerignore",
        "layer-02/src/pkg/__init__.py",
    ]
    plan = render(case_dockerignore(tmp_path / "d"))
    out = tmp_path / "ctx2"
    out.mkdir()
    write_context(plan.context, out)
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["keep.py"]


def test_generated_context_files(tmp_path: Path):
    plan = render(case_poetry_project(tmp_path))
    (entry,) = [e for e in plan.context if e.content is not None]
    assert entry.dest == "layer-00/requirements.txt"
    assert entry.content == poetry_requirements(tmp_path / "poetry" / "poetry.lock").encode()
    assert entry.content.decode().splitlines() == [
        "# pinned from poetry.lock by roost",
        "requests==2.32.3",
        'colorama==0.4.6 ; sys_platform == "win32"',
        "tool @ git+https://example.com/tool.git@abc123",
    ]


def test_pixi_script_manifest(tmp_path: Path):
    plan = render(case_pixi_script(tmp_path))
    (entry,) = plan.context
    assert entry.content is not None
    assert entry.content.decode() == textwrap.dedent(
        """\
        [workspace]
        name = "sim"
        channels = ["conda-forge", "nvidia"]
        platforms = ["linux-64", "linux-aarch64"]

        [dependencies]
        python = "3.12.*"
        "numpy" = ">=2"

        [pypi-dependencies]
        "requests" = ">=2"
        "httpx" = { "version" = "*", "extras" = ["http2"] }
        """
    )


def test_unrenderable_images_say_why(tmp_path: Path):
    with pytest.raises(ImageBuildError, match="reference without a URI"):
        render(Image.from_ref_name("gpu"))
    with pytest.raises(ImageBuildError, match="cannot read the Dockerfile"):
        render(Image.from_dockerfile(tmp_path / "Dockerfile", registry=None, name="x"))
    script = tmp_path / "gone.py"
    image = Image.from_uv_script(script, name="job")
    with pytest.raises(ImageBuildError, match="cannot read the uv script"):
        render(image)
