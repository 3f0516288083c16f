"""Image definitions (SPEC §12): constructors, layers, incompatibilities, tag and URI."""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from roost.errors import ImageBuildError
from roost.spec import image_layers as L
from roost.spec import pep723
from roost.spec.image import Image
from roost.spec.secrets import Secret

RUNNING = (sys.version_info.major, sys.version_info.minor)


def md5(*parts: bytes | str) -> str:
    h = hashlib.md5()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
    return h.hexdigest()


def extendable(base: str = "myregistry.com/myimage:v123") -> Image:
    return Image.from_base(base).clone(name="x", extendable=True)


UV_SCRIPT = textwrap.dedent(
    """\
    #!/usr/bin/env python
    # /// script
    # requires-python = ">=3.11"
    # dependencies = [
    #   "requests<3",
    #   "rich[jupyter]>=13",  # a comment
    # ]
    #
    # [tool.uv]
    # exclude-newer = "2024-01-01T00:00:00Z"
    # ///
    import requests
    print(requests)
    """
)


# --------------------------------------------------------------------------------------------------
# Construction


def test_direct_construction_is_refused():
    with pytest.raises(TypeError, match="from_debian_base"):
        Image()
    with pytest.raises(TypeError, match="from_"):
        Image(base_image="python:3.12")


def test_from_debian_base_default_is_the_released_image():
    img = Image.from_debian_base()
    pv = f"{RUNNING[0]}.{RUNNING[1]}"
    assert img.base_image == f"ghcr.io/flyteorg/flyte:py{pv}-v2.12.1"
    assert img.uri == img.base_image
    assert img.tag == f"py{pv}-v2.12.1"
    assert img.python_version == RUNNING
    assert img.extendable and img.name == "flyte" and img.registry is None
    assert img.platform == ("linux/amd64", "linux/arm64")
    assert img._layers == () and not img._is_cloned


def test_from_debian_base_python_and_flyte_version():
    img = Image.from_debian_base(python_version=(3, 12), flyte_version="v2.0.0")
    assert img.uri == "ghcr.io/flyteorg/flyte:py3.12-v2.0.0"
    assert img.python_version == (3, 12)
    assert Image.from_debian_base(platform=("linux/arm64",)).platform == ("linux/arm64",)


def test_from_debian_base_python_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        Image.from_debian_base(python=(3, 12))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="python_version"):
        Image.from_debian_base(python_version=3.12)  # type: ignore[arg-type]


def test_from_debian_base_without_flyte_builds_from_slim_python():
    img = Image.from_debian_base(python_version=(3, 11), install_flyte=False)
    assert img.base_image == "python:3.11-slim-bookworm"
    assert [type(layer) for layer in img._layers] == [
        L.Labels,
        L.RunAsUser,
        L.WorkDir,
        L.EnvVars,
        L.AptPackages,
    ]
    assert img._layers[-1] == L.AptPackages(packages=("build-essential", "ca-certificates"))
    assert img.workdir == "/home/flyte"
    assert img.tag == "py3.11"
    assert img.uri == "flyte:py3.11"
    assert img.extendable


def test_from_debian_base_with_registry_or_name_is_a_content_hashed_clone():
    img = Image.from_debian_base(python_version=(3, 11), registry="reg.io", name="app")
    assert img._is_cloned and img.registry == "reg.io" and img.name == "app"
    assert img.tag == md5("ghcr.io/flyteorg/flyte:py3.11-v2.12.1")
    assert img.uri == f"reg.io/app:{img.tag}"
    only_registry = Image.from_debian_base(python_version=(3, 11), registry="reg.io")
    assert only_registry.uri == f"reg.io/flyte:{img.tag}"
    secret = Image.from_debian_base(registry="reg.io", registry_secret="pull-secret")
    assert secret._registry_secret == "pull-secret"


def test_from_base():
    img = Image.from_base("ghcr.io/org/thing:1.0")
    assert img.uri == "ghcr.io/org/thing:1.0"
    assert not img.extendable and img.name is None and not img._is_cloned
    with pytest.raises(TypeError):
        Image.from_base(123)  # type: ignore[arg-type]


def test_from_ref_name():
    img = Image.from_ref_name("gpu")
    assert img._ref_name == "gpu" and not img.extendable
    assert Image.from_ref_name()._ref_name == "default"
    with pytest.raises(ImageBuildError, match=r"init\(images="):
        _ = img.uri


def test_from_dockerfile(tmp_path: Path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12\nRUN pip install numpy\n")
    img = Image.from_dockerfile(dockerfile, "reg.io", "custom")
    assert img.dockerfile == dockerfile and img.base_image is None
    assert not img.extendable and img._is_cloned
    assert img.tag == md5(dockerfile.read_bytes())
    assert img.uri == f"reg.io/custom:{img.tag}"
    assert Image.from_dockerfile(dockerfile, None, "custom").uri == f"custom:{img.tag}"
    # Contents, not the path: the same Dockerfile elsewhere has the same tag; an edit changes it.
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(dockerfile, other / "Dockerfile")
    assert Image.from_dockerfile(other / "Dockerfile", "reg.io", "custom").tag == img.tag
    dockerfile.write_text("FROM python:3.13\n")
    assert img.tag != md5(b"FROM python:3.12\nRUN pip install numpy\n")


def test_from_dockerfile_missing_file_defines_and_fails_in_validate(tmp_path: Path):
    img = Image.from_dockerfile(tmp_path / "nope" / "Dockerfile", "reg.io", "custom")
    assert img.tag == md5(str(tmp_path / "nope" / "Dockerfile"))
    with pytest.raises(FileNotFoundError, match="Dockerfile"):
        img.validate()


def test_from_uv_script_reads_pep723_dependencies(tmp_path: Path):
    script = tmp_path / "job.py"
    script.write_text(UV_SCRIPT)
    img = Image.from_uv_script(script, name="job", registry="reg.io")
    layer = img._layers[-1]
    assert isinstance(layer, L.UVScript)
    assert layer.dependencies == ("requests<3", "rich[jupyter]>=13")
    assert layer.requires_python == ">=3.11"
    # requires-python ">=3.11": the lowest admitted minor version is chosen.
    assert img.python_version == (3, 11)
    assert img.base_image == "python:3.11-slim-bookworm"
    assert img.extendable and img.uri.startswith("reg.io/job:")
    assert Image.from_uv_script(script, name="job", python_version=(3, 13)).python_version == (3, 13)
    img.validate()


def test_from_uv_script_tag_follows_dependencies_not_code(tmp_path: Path):
    script = tmp_path / "job.py"
    script.write_text(UV_SCRIPT)
    tag = Image.from_uv_script(script, name="job").tag
    script.write_text(UV_SCRIPT + "print('more code')\n")
    assert Image.from_uv_script(script, name="job").tag == tag
    script.write_text(UV_SCRIPT.replace("requests<3", "requests<4"))
    assert Image.from_uv_script(script, name="job").tag != tag


def test_from_uv_script_without_metadata_or_requires_python(tmp_path: Path):
    script = tmp_path / "plain.py"
    script.write_text("print('hi')\n")
    img = Image.from_uv_script(script, name="plain")
    assert img.python_version == RUNNING
    assert img._layers[-1].dependencies == ()


def test_from_uv_script_requires_python_admitting_nothing(tmp_path: Path):
    script = tmp_path / "future.py"
    script.write_text('# /// script\n# requires-python = ">=4.0"\n# ///\n')
    with pytest.raises(ValueError, match="python_version="):
        Image.from_uv_script(script, name="future")


def test_from_uv_script_needs_a_name(tmp_path: Path):
    with pytest.raises(TypeError):
        Image.from_uv_script(tmp_path / "x.py")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="name="):
        Image.from_uv_script(tmp_path / "x.py", name="")


def test_from_uv_script_missing_and_non_py_scripts_fail_in_validate(tmp_path: Path):
    img = Image.from_uv_script(tmp_path / "missing.py", name="job")
    assert str(tmp_path / "missing.py") in img._layers[-1].contribution().decode()
    with pytest.raises(FileNotFoundError):
        img.validate()
    txt = tmp_path / "script.txt"
    txt.write_text("print(1)\n")
    with pytest.raises(ValueError, match=r"\.py"):
        Image.from_uv_script(txt, name="job").validate()
    folder = tmp_path / "dir.py"
    folder.mkdir()
    with pytest.raises(ValueError, match="not a file"):
        Image.from_uv_script(folder, name="job").validate()


def test_from_pixi_script(tmp_path: Path):
    script = tmp_path / "p.py"
    script.write_text('# /// script\n# dependencies = ["numpy"]\n# [tool.pixi]\n# channels = ["conda-forge"]\n# ///\n')
    img = Image.from_pixi_script(script, name="pixi-job", environment="gpu", secret_mounts="TOKEN")
    layer = img._layers[-1]
    assert isinstance(layer, L.PixiScript) and layer.environment == "gpu"
    assert layer.secret_mounts == (Secret(key="TOKEN"),)
    assert img.name == "pixi-job" and img.base_image.endswith("-slim-bookworm")
    tag = img.tag
    script.write_text(script.read_text() + "print('code only')\n")
    assert Image.from_pixi_script(script, name="pixi-job", environment="gpu", secret_mounts="TOKEN").tag == tag
    img.validate()


def test_clone():
    base = Image.from_base("python:3.12")
    clone = base.clone(name="x", registry="reg.io", extendable=True, platform=("linux/arm64",))
    assert clone._is_cloned and clone.extendable and clone.name == "x" and clone.registry == "reg.io"
    assert clone.platform == ("linux/arm64",)
    assert clone.clone().extendable  # extendable=None keeps the value
    assert not clone.clone(extendable=False).extendable
    assert clone.clone(python_version=(3, 10)).python_version == (3, 10)
    assert clone.clone(base_image="python:3.13").base_image == "python:3.13"
    assert base.name is None and not base._is_cloned  # the original is untouched
    with_layer = clone.clone(addl_layer=L.AptPackages(packages=("git",)))
    assert with_layer._layers == (L.AptPackages(packages=("git",)),)
    with pytest.raises(ValueError, match="not extendable"):
        base.clone(addl_layer=L.AptPackages(packages=("git",)))
    assert Image.from_debian_base().clone()._preset_tag is None


def test_images_are_immutable_values():
    a = Image.from_debian_base(python_version=(3, 11)).with_pip_packages("numpy")
    b = Image.from_debian_base(python_version=(3, 11)).with_pip_packages("numpy")
    assert a == b and hash(a) == hash(b)
    assert a != Image.from_debian_base(python_version=(3, 11)).with_pip_packages("pandas")
    with pytest.raises(AttributeError):
        a.name = "other"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.deepcopy(a) == a
    assert {a, b} == {a}


# --------------------------------------------------------------------------------------------------
# Layers


def test_with_pip_packages():
    img = Image.from_debian_base().with_pip_packages(
        "numpy",
        "scipy==1.10.0",
        index_url="https://idx",
        extra_index_urls=["https://a", "https://b"],
        pre=True,
        extra_args="--no-deps",
        secret_mounts=["TOKEN", Secret(key="k", as_env_var="K_ENV")],
    )
    layer = img._layers[-1]
    assert layer == L.PipPackages(
        packages=("numpy", "scipy==1.10.0"),
        index_url="https://idx",
        extra_index_urls=("https://a", "https://b"),
        pre=True,
        extra_args="--no-deps",
        secret_mounts=(Secret(key="TOKEN"), Secret(key="k", as_env_var="K_ENV")),
    )
    assert img._is_cloned and img._preset_tag is None
    assert img.uri == f"flyte:{img.tag}"
    single = Image.from_debian_base().with_pip_packages("x", extra_index_urls="https://a")
    assert single._layers[-1].extra_index_urls == ("https://a",)


def test_with_pip_packages_list_is_a_type_error_with_hint():
    with pytest.raises(TypeError, match="separately"):
        Image.from_debian_base().with_pip_packages(["numpy", "pandas"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strings"):
        Image.from_debian_base().with_pip_packages(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="extra_index_urls"):
        Image.from_debian_base().with_pip_packages("x", extra_index_urls=["a", ["b"]])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="extra_args"):
        Image.from_debian_base().with_pip_packages("x", extra_args=["--no-deps"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="secrets"):
        Image.from_debian_base().with_pip_packages("x", secret_mounts=[3])  # type: ignore[list-item]


def test_with_requirements(tmp_path: Path):
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\n")
    img = Image.from_debian_base().with_requirements(req, pre=True)
    assert img._layers[-1] == L.Requirements(file=req, pre=True)
    with pytest.raises(ValueError, match=r"\.txt"):
        Image.from_debian_base().with_requirements(tmp_path / "requirements.in")
    with pytest.raises(FileNotFoundError):
        Image.from_debian_base().with_requirements(tmp_path / "missing.txt").validate()


def test_with_uv_project(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname='p'\n")
    (tmp_path / "uv.lock").write_text("version = 1\n")
    img = Image.from_debian_base().with_uv_project(tmp_path / "pyproject.toml")
    layer = img._layers[-1]
    assert isinstance(layer, L.UVProject)
    assert layer.uvlock == tmp_path / "uv.lock" and layer.project_install_mode == "dependencies_only"
    img.validate()
    mode = Image.from_debian_base().with_uv_project(tmp_path / "pyproject.toml", project_install_mode="install_project")
    assert mode._layers[-1].project_install_mode == "install_project"
    assert mode.tag != img.tag
    with pytest.raises(ValueError, match="project_install_mode"):
        Image.from_debian_base().with_uv_project(tmp_path / "pyproject.toml", project_install_mode="all")  # type: ignore[arg-type]


def test_with_uv_project_validation(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        Image.from_debian_base().with_uv_project(tmp_path / "pyproject.toml").validate()
    (tmp_path / "pyproject.toml").mkdir()
    with pytest.raises(ValueError, match="not a file"):
        Image.from_debian_base().with_uv_project(tmp_path / "pyproject.toml").validate()
    project = tmp_path / "p"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname='p'\n")
    with pytest.raises(ValueError, match="uv lock"):
        Image.from_debian_base().with_uv_project(project / "pyproject.toml").validate()


def test_with_poetry_project(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.poetry]\n")
    img = Image.from_debian_base().with_poetry_project(tmp_path / "pyproject.toml", extra_args="--only main")
    layer = img._layers[-1]
    assert isinstance(layer, L.PoetryProject) and layer.poetry_lock == tmp_path / "poetry.lock"
    with pytest.raises(ValueError, match="poetry lock"):
        img.validate()
    (tmp_path / "poetry.lock").write_text("")
    img.validate()


def test_with_pixi_project(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.pixi]\n")
    (tmp_path / "pixi.toml").write_text("[workspace]\n")
    (tmp_path / "pixi.lock").write_text("version: 6\n")
    img = Image.from_debian_base().with_pixi_project(tmp_path, environment="cuda")
    layer = img._layers[-1]
    assert isinstance(layer, L.PixiProject)
    assert layer.manifest == tmp_path / "pixi.toml"  # preferred over pyproject.toml
    assert layer.pixi_lock == tmp_path / "pixi.lock" and layer.environment == "cuda"
    img.validate()
    (tmp_path / "pixi.toml").unlink()
    assert Image.from_debian_base().with_pixi_project(tmp_path)._layers[-1].manifest == tmp_path / "pyproject.toml"
    (tmp_path / "env.toml").write_text("")
    with pytest.raises(ValueError, match=r"pixi\.toml or pyproject\.toml"):
        Image.from_debian_base().with_pixi_project(tmp_path / "env.toml").validate()


def test_with_apt_packages():
    img = Image.from_debian_base().with_apt_packages("git", "curl", secret_mounts="APT_TOKEN")
    assert img._layers[-1] == L.AptPackages(packages=("git", "curl"), secret_mounts=(Secret(key="APT_TOKEN"),))
    with pytest.raises(TypeError, match="separately"):
        Image.from_debian_base().with_apt_packages(["git"])  # type: ignore[arg-type]


def test_with_commands():
    img = Image.from_debian_base().with_commands(["echo a", "echo b"])
    assert img._layers[-1] == L.Commands(commands=("echo a", "echo b"))
    assert Image.from_debian_base().with_commands("echo a")._layers[-1] == L.Commands(commands=("echo a",))
    with pytest.raises(TypeError):
        Image.from_debian_base().with_commands(["echo", ["nested"]])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        Image.from_debian_base().with_commands(3)  # type: ignore[arg-type]


def test_with_env_vars_and_workdir():
    img = Image.from_debian_base().with_env_vars({"A": "1", "B": "2"}).with_workdir("/app").with_workdir("/srv")
    assert img._layers[0] == L.EnvVars(env_vars=(("A", "1"), ("B", "2")))
    assert img._layers[1:] == (L.WorkDir(workdir="/app"), L.WorkDir(workdir="/srv"))
    assert img.workdir == "/srv"
    assert Image.from_debian_base().workdir is None
    with pytest.raises(TypeError, match="str"):
        Image.from_debian_base().with_env_vars({"A": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Image.from_debian_base().with_env_vars([("A", "1")])  # type: ignore[arg-type]


def test_with_source_folder_destination_rules(tmp_path: Path):
    src = tmp_path / "my_code"
    base = Image.from_debian_base()
    assert base.with_source_folder(src)._layers[-1].dst == "./my_code"
    assert base.with_source_folder(src, copy_contents_only=True)._layers[-1].dst == "."
    assert base.with_source_folder(src, "/app")._layers[-1].dst == "/app"
    assert base.with_source_folder(str(src))._layers[-1].src == src
    with pytest.raises(ImageBuildError, match="does not exist"):
        base.with_source_folder(src).validate()
    (tmp_path / "file.py").write_text("")
    with pytest.raises(ImageBuildError, match="not a directory"):
        base.with_source_folder(tmp_path / "file.py").validate()
    src.mkdir()
    base.with_source_folder(src).validate()


def test_with_source_file(tmp_path: Path):
    a = tmp_path / "a.py"
    base = Image.from_debian_base()
    assert base.with_source_file(a, "/app")._layers[-1] == L.SourceFiles(srcs=(a,), dst="/app")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match=r"same file name 'a\.py'"):
        base.with_source_file([a, tmp_path / "sub" / "a.py"])
    with pytest.raises(ImageBuildError, match="does not exist"):
        base.with_source_file([a]).validate()
    with pytest.raises(ImageBuildError, match="not a file"):
        base.with_source_file(tmp_path / "sub").validate()
    a.write_text("x = 1\n")
    base.with_source_file([a]).validate()


def test_with_code_bundle_dockerignore_and_local_v2(tmp_path: Path):
    base = Image.from_debian_base()
    assert base.with_code_bundle()._layers[-1] == L.CodeBundle(copy_style="loaded_modules", dst=".")
    assert base.with_code_bundle("all", "/root")._layers[-1] == L.CodeBundle(copy_style="all", dst="/root")
    with pytest.raises(ValueError, match="copy_style"):
        base.with_code_bundle("none")  # type: ignore[arg-type]
    ignore = base.with_dockerignore(tmp_path / ".dockerignore")  # no existence check
    ignore.validate()
    assert ignore.tag == md5(base.base_image, str(tmp_path / ".dockerignore"))
    (tmp_path / ".dockerignore").write_text("*.pyc\n")
    assert ignore.tag == md5(base.base_image, "*.pyc\n")
    assert base.with_local_v2()._layers[-1] == L.LocalV2()
    plugins = base.with_local_v2_plugins("flyteplugins-ray", "flyteplugins-spark")
    assert plugins._layers[-1].plugins == ("flyteplugins-ray", "flyteplugins-spark")
    with pytest.raises(ValueError, match="flyteplugins-"):
        base.with_local_v2_plugins("ray")
    with pytest.raises(TypeError, match="separately"):
        base.with_local_v2_plugins(["flyteplugins-ray"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Incompatibilities (§12.3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.from_base("python:3.12"),
        lambda: Image.from_ref_name("default"),
        lambda: Image.from_debian_base().clone(extendable=False),
    ],
    ids=["from_base", "from_ref_name", "clone-extendable-false"],
)
def test_layers_on_non_extendable_images(make):
    with pytest.raises(ValueError, match=r"not extendable.*clone\(name=\.\.\., extendable=True\)"):
        make().with_pip_packages("numpy")


def test_layers_on_dockerfile_images_even_when_forced_extendable(tmp_path: Path):
    img = Image.from_dockerfile(tmp_path / "Dockerfile", "reg.io", "custom")
    for candidate in (img, img.clone(extendable=True)):
        with pytest.raises(ValueError, match="Dockerfile-based"):
            candidate.with_apt_packages("git")


def test_layers_on_images_without_a_name():
    img = Image.from_base("python:3.12").clone(extendable=True)
    with pytest.raises(ValueError, match=r"no name.*clone\(name=\.\.\.\)"):
        img.with_commands("echo hi")


def test_fix_pattern_for_a_custom_base():
    img = Image.from_base("python:3.12").clone(name="x", extendable=True).with_pip_packages("numpy")
    assert img.uri == f"x:{img.tag}"


def test_uri_errors():
    with pytest.raises(ImageBuildError, match="no base image"):
        _ = Image.from_base("").uri
    with pytest.raises(ImageBuildError, match="no name"):
        _ = Image.from_base("python:3.12").clone().uri


# --------------------------------------------------------------------------------------------------
# Tag and identity (§12.4)


def test_verified_tag_example():
    img = extendable("myregistry.com/myimage:v123").with_apt_packages("vim")
    assert img.tag == "a95ad60ad5a34dd40c304b81cf9a15ae"
    assert img.identifier == img.tag
    assert img.uri == "x:a95ad60ad5a34dd40c304b81cf9a15ae"


def test_tag_excludes_registry_name_platform_python_and_extendable():
    img = extendable().with_apt_packages("vim")
    variants = [
        img.clone(registry="other.io"),
        img.clone(name="y"),
        img.clone(platform=("linux/arm64",)),
        img.clone(python_version=(3, 10)),
        img.clone(extendable=False),
    ]
    assert {v.tag for v in variants} == {img.tag}
    assert img.clone(base_image="other:1").tag != img.tag


def test_tag_contributions_in_order():
    base = extendable("b")
    assert base.with_pip_packages("a", "c", index_url="i", extra_index_urls=["e1", "e2"], pre=True).tag == md5(
        "b", "ie1e2True", "ac"
    )
    secret = Secret(key="K")
    assert base.with_commands(["x", "y"], secret_mounts=[secret]).tag == md5("b", "xy", secret.stable_hash())
    assert base.with_env_vars({"A": "1", "B": "2"}).tag == md5("b", "A=1 B=2")
    assert base.with_workdir("/w").tag == md5("b", "/w")
    assert (
        base.with_apt_packages("a").with_pip_packages("b").tag != base.with_pip_packages("b").with_apt_packages("a").tag
    )


def test_empty_digest_is_latest():
    img = Image.from_ref_name("x")
    assert img.tag == "latest" and img.identifier == "latest"


def test_requirements_content_not_path_or_mtime(tmp_path: Path):
    req = tmp_path / "requirements.txt"
    req.write_text("numpy==1.26\n")
    tag = extendable().with_requirements(req).tag
    assert tag == md5("myregistry.com/myimage:v123", "numpy==1.26\n")
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(req, other / "requirements.txt")
    os.utime(other / "requirements.txt", (1, 1))
    assert extendable().with_requirements(other / "requirements.txt").tag == tag
    req.write_text("numpy==2.0\n")
    assert extendable().with_requirements(req).tag != tag
    assert extendable().with_requirements(req, pre=True).tag != extendable().with_requirements(req).tag


def test_missing_requirements_hash_the_path(tmp_path: Path):
    img = extendable().with_requirements(tmp_path / "missing.txt")
    assert img.tag == md5("myregistry.com/myimage:v123", str(tmp_path / "missing.txt"))


def _make_tree(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "main.py").write_text("print(1)\n")


def test_source_folder_tag_is_content_addressed(tmp_path: Path):
    a, b = tmp_path / "a" / "code", tmp_path / "b" / "code"
    _make_tree(a)
    _make_tree(b)
    tag = extendable().with_source_folder(a, "/app").tag
    assert extendable().with_source_folder(b, "/app").tag == tag  # same contents elsewhere
    assert extendable().with_source_folder(a, "/srv").tag != tag
    (b / "pkg" / "mod.py").write_text("x = 2\n")
    assert extendable().with_source_folder(b, "/app").tag != tag
    (a / "pkg" / "new.py").write_text("")
    assert extendable().with_source_folder(a, "/app").tag != tag


def test_source_folder_honours_its_dockerignore(tmp_path: Path):
    src = tmp_path / "code"
    _make_tree(src)
    (src / ".dockerignore").write_text("# build output\n*.log\n.venv/\n**/__pycache__\n!keep.log\n")
    tag = extendable().with_source_folder(src).tag
    (src / "debug.log").write_text("noise")
    (src / ".venv" / "lib").mkdir(parents=True)
    (src / ".venv" / "lib" / "x.py").write_text("x")
    (src / "pkg" / "__pycache__").mkdir()
    (src / "pkg" / "__pycache__" / "mod.pyc").write_bytes(b"\0")
    assert extendable().with_source_folder(src).tag == tag
    (src / "keep.log").write_text("kept")
    assert extendable().with_source_folder(src).tag != tag


def test_source_file_tag(tmp_path: Path):
    f = tmp_path / "a" / "util.py"
    f.parent.mkdir()
    f.write_text("x = 1\n")
    g = tmp_path / "b" / "util.py"
    g.parent.mkdir()
    g.write_text("x = 1\n")
    assert extendable().with_source_file(f).tag == extendable().with_source_file(g).tag
    g.write_text("x = 2\n")
    assert extendable().with_source_file(f).tag != extendable().with_source_file(g).tag


def test_missing_sources_do_not_fail_definition(tmp_path: Path):
    img = extendable().with_source_folder(tmp_path / "nope").with_source_file(tmp_path / "nope.py")
    assert len(img.tag) == 32


def test_uv_project_tag_follows_lock_and_manifest(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname='p'\n")
    (tmp_path / "uv.lock").write_text("version = 1\n")
    tag = extendable().with_uv_project(tmp_path / "pyproject.toml").tag
    (tmp_path / "uv.lock").write_text("version = 2\n")
    assert extendable().with_uv_project(tmp_path / "pyproject.toml").tag != tag


def test_tag_is_stable_across_processes(tmp_path: Path):
    src = tmp_path / "code"
    _make_tree(src)
    (src / ".dockerignore").write_text("*.log\n")
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\npandas\n")
    program = textwrap.dedent(
        f"""
        from pathlib import Path
        from roost.spec.image import Image
        from roost.spec.secrets import Secret
        img = (
            Image.from_debian_base(python_version=(3, 11), name="app", registry="reg.io")
            .with_requirements(Path({str(req)!r}))
            .with_pip_packages("numpy", secret_mounts=[Secret(key="TOKEN"), "OTHER"])
            .with_source_folder(Path({str(src)!r}), "/app")
            .with_env_vars({{"B": "2", "A": "1"}})
        )
        print(img.uri)
        """
    )
    exec_globals: dict[str, object] = {}
    uris = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
        )
        uris.add(out.stdout.strip())
    exec(compile(program.replace("print(img.uri)", "uri = img.uri"), "<image>", "exec"), exec_globals)
    uris.add(exec_globals["uri"])
    assert len(uris) == 1
    assert next(iter(uris)).startswith("reg.io/app:")


# --------------------------------------------------------------------------------------------------
# Seed 004 examples


def test_seed_004_layered_image_example():
    my_custom_image = (
        Image.from_debian_base(python_version=(3, 11), name="my-app", registry="my-registry.com")
        .with_pip_packages("numpy", "scipy==1.10.0")
        .with_source_folder(Path("./my_code"), "/app")
        .with_commands(["apt-get update && apt-get install -y git"])
        .with_env_vars({"MY_ENV_VAR": "some_value"})
    )
    # "The image will be built and pushed to my-registry.com/my-app:<hash>"
    assert my_custom_image.uri == f"my-registry.com/my-app:{my_custom_image.identifier}"
    assert len(my_custom_image.identifier) == 32


def test_seed_004_private_package_example():
    private_repo_image = Image.from_debian_base().with_pip_packages(
        "private-package",
        secret_mounts=[Secret(key="GITHUB_PAT", as_env_var="GITHUB_PAT_ENV")],
    )
    assert private_repo_image._layers[-1].secret_mounts[0].as_env_var == "GITHUB_PAT_ENV"


def test_seed_004_environment_image_example():
    img = Image.from_debian_base().with_pip_packages("scikit-learn", "pandas")
    assert img._layers[-1].packages == ("scikit-learn", "pandas")


# --------------------------------------------------------------------------------------------------
# PEP 723 and requires-python helpers


METADATA_CASES = [
    (
        'requires-python = ">=3.11"\ndependencies = [\n  "requests<3",\n  \'rich[jupyter]>=13\',  # c\n]\n',
        {"requires-python": ">=3.11", "dependencies": ["requests<3", "rich[jupyter]>=13"]},
    ),
    (
        'dependencies = ["a", "b; python_version < \\"3.12\\""]\n[tool.uv]\ndependencies = ["no"]\n',
        {"dependencies": ["a", 'b; python_version < "3.12"']},
    ),
    ("dependencies = []\n", {"dependencies": []}),
    ("[tool.pixi]\nrequires-python = '>=3'\n", {}),
]


@pytest.mark.parametrize(("toml_text", "expected"), METADATA_CASES)
def test_metadata_parsers(toml_text: str, expected: dict[str, object]):
    assert pep723.parse_script_metadata(toml_text) == expected


def test_script_metadata_block():
    block = pep723.script_metadata_block(UV_SCRIPT)
    assert block is not None and block.startswith('requires-python = ">=3.11"\n')
    assert pep723.script_metadata_block("print(1)\n") is None
    twice = "# /// script\n# x = 1\n# ///\nimport os\n# /// script\n# y = 1\n# ///\n"
    with pytest.raises(ValueError, match="only one"):
        pep723.script_metadata_block(twice)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (">=3.8", (3, 10)),
        (">=3.11", (3, 11)),
        (">3.11", (3, 11)),  # 3.11.1 > 3.11
        (">=3.11.4,<3.13", (3, 11)),
        ("~=3.12", (3, 12)),
        ("==3.13.*", (3, 13)),
        ("==3.12", (3, 12)),
        ("!=3.10.*, >=3.9", (3, 11)),
        ("<3.10", None),
        (">=4", None),
    ],
)
def test_admitted_minor(spec: str, expected: tuple[int, int] | None):
    candidates = [(3, 10), (3, 11), (3, 12), (3, 13), (3, 14)]
    assert pep723.admitted_minor(spec, candidates) == expected


def test_importing_image_module_is_cheap():
    code = "import sys, roost.spec.image; print('tomllib' in sys.modules, 'subprocess' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
