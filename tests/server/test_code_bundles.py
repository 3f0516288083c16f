"""Code bundles (roost.runtime.code_bundles): what ``pack`` puts in for each copy_style, that its
bytes depend on the files' names and contents alone, and that ``unpack`` refuses every archive that
could write outside its folder or blow up the server, leaving nothing behind."""

from __future__ import annotations

import gzip
import importlib
import io
import logging
import os
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from roost.runtime import code_bundles
from roost.runtime.code_bundles import BundleError, digest_of, module_of, pack, unpack


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write(
        root,
        {
            "main.py": "import pkg.sub.mod\n",
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/mod.py": "VALUE = 41\n",
            "pkg/unused.py": "",
            "data/table.csv": "a,b\n1,2\n",
        },
    )
    return root


@pytest.fixture
def clean_modules() -> Iterator[None]:
    """Modules the test imports from its temporary projects are forgotten afterwards."""
    before = set(sys.modules)
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - before:
        del sys.modules[name]
    importlib.invalidate_caches()


def import_from(folder: Path, module: str) -> None:
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    importlib.import_module(module)


# -- pack --------------------------------------------------------------------------------------------


def test_the_same_files_give_the_same_bytes_whatever_their_times_and_order(project, tmp_path):
    first = pack("all", project)
    assert first is not None
    assert first.digest == digest_of(first.data) and first.digest.startswith("sha256:")
    for path in project.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
    (project / "data" / "table.csv").chmod(0o600)  # permissions other than "executable" are not kept
    again = pack("all", project)
    assert again is not None and again.data == first.data

    # The same tree written elsewhere, in another order.
    other = tmp_path / "other"
    write(other, {rel: content.decode() for rel, content in reversed(tree(project).items())})
    copy = pack("all", other)
    assert copy is not None and copy.digest == first.digest

    (project / "pkg" / "sub" / "mod.py").write_text("VALUE = 42\n")
    changed = pack("all", project)
    assert changed is not None and changed.digest != first.digest


def test_a_bundle_unpacks_to_the_same_files_and_keeps_the_executable_bit(project, tmp_path):
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o750)
    bundle = pack("all", project)
    assert bundle is not None
    dest = unpack(bundle.data, tmp_path / "unpacked" / bundle.digest.removeprefix("sha256:"))
    assert tree(dest) == tree(project)
    assert sorted(tree(dest)) == list(bundle.files)
    assert (dest / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (dest / "main.py").stat().st_mode & 0o777 == 0o644


def test_loaded_modules_are_the_project_modules_imported_and_their_packages(project, tmp_path, clean_modules):
    outside = tmp_path / "elsewhere"
    write(outside, {"helper_outside.py": ""})
    venv = project / "env"
    write(venv, {"pyvenv.cfg": "", "lib/site-packages/vendored_mod.py": ""})
    write(project, {"lib/site-packages/sitepkg_mod.py": ""})
    import_from(project, "main")
    import_from(outside, "helper_outside")
    import_from(venv / "lib" / "site-packages", "vendored_mod")
    import_from(project / "lib" / "site-packages", "sitepkg_mod")

    bundle = pack("loaded_modules", project)
    assert bundle is not None
    assert bundle.files == ("main.py", "pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/mod.py")
    assert bundle.root == project.resolve()


def test_loaded_modules_default_to_the_working_directory_and_honour_roostignore(project, monkeypatch, clean_modules):
    write(project, {"generated.py": "", ".roostignore": "generated.py\n"})
    import_from(project, "main")
    import_from(project, "generated")
    monkeypatch.chdir(project)
    bundle = pack()
    assert bundle is not None
    assert "pkg/sub/mod.py" in bundle.files and "generated.py" not in bundle.files


def test_loaded_modules_never_carry_roost_or_the_python_library():
    import roost

    for root in (Path(roost.__file__).resolve().parents[1], Path(os.__file__).resolve().parents[1]):
        bundle = pack("loaded_modules", root)
        assert bundle is not None
        assert not [f for f in bundle.files if f.startswith("roost/") or f.endswith("/os.py")], root


def test_all_is_every_file_but_what_git_roost_and_tools_leave_out(project):
    write(
        project,
        {
            ".gitignore": "*.log\nbuild/\n/secret.txt\n!keep.log\n",
            ".roostignore": "data/\n",
            "app.log": "",
            "pkg/deep.log": "",
            "keep.log": "",
            "build/out.bin": "",
            "pkg/build/out.bin": "",
            "tools/build": "",  # a file: "build/" ignores only folders
            "secret.txt": "",
            "pkg/secret.txt": "",
            ".git/HEAD": "",
            ".venv/pyvenv.cfg": "",
            ".venv/lib/x.py": "",
            "venv/pyvenv.cfg": "",
            "venv/lib/y.py": "",
            ".cache/z": "",
            "pkg/__pycache__/mod.cpython-311.pyc": "",
            "stray.pyc": "",
            "node_modules/left/index.js": "",
        },
    )
    bundle = pack("all", project)
    assert bundle is not None
    assert bundle.files == (
        ".gitignore",
        ".roostignore",
        "keep.log",
        "main.py",
        "pkg/__init__.py",
        "pkg/secret.txt",
        "pkg/sub/__init__.py",
        "pkg/sub/mod.py",
        "pkg/unused.py",
        "tools/build",
    )


def test_links_inside_the_root_are_stored_as_files_and_links_outside_left_out(project, tmp_path, caplog):
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    (project / "alias.py").symlink_to(project / "pkg" / "sub" / "mod.py")
    (project / "escape.txt").symlink_to(outside)
    (project / "escape_dir").symlink_to(tmp_path, target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="roost"):
        bundle = pack("all", project)
    assert bundle is not None
    assert "alias.py" in bundle.files
    assert not {"escape.txt", "escape_dir"} & {f.split("/")[0] for f in bundle.files}
    with tarfile.open(fileobj=io.BytesIO(bundle.data)) as tar:
        alias = tar.getmember("alias.py")
        assert alias.isreg()
        assert tar.extractfile(alias).read() == b"VALUE = 41\n"  # type: ignore[union-attr]
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "escape.txt" in warned and "escape_dir" in warned


def test_none_is_no_bundle_and_an_unknown_style_is_refused(project):
    assert pack("none", project) is None
    with pytest.raises(ValueError, match="'loaded_modules', 'all', 'none'"):
        pack("everything", project)


def test_a_bundle_over_the_limit_is_refused_with_what_to_do(project, monkeypatch):
    monkeypatch.setattr(code_bundles, "MAX_BUNDLE_BYTES", 4096)
    (project / "noise.bin").write_bytes(os.urandom(20_000))
    with pytest.raises(BundleError, match=r"\.roostignore.*loaded_modules"):
        pack("all", project)


def test_module_of_names_the_module_a_file_is_imported_as(project, tmp_path):
    assert module_of("pkg/sub/mod.py", project) == "pkg.sub.mod"
    assert module_of(project / "pkg" / "__init__.py", project) == "pkg"
    assert module_of("main.py", project) == "main"
    with pytest.raises(BundleError, match="not under"):
        module_of(tmp_path / "other.py", project)
    with pytest.raises(BundleError, match="not a Python file"):
        module_of("data/table.csv", project)


# -- unpack ------------------------------------------------------------------------------------------


def targz(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def member(name: str, content: bytes | None = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, content


def longer_than_declared() -> bytes:
    """A member whose header says 3 bytes while 600 follow: the rest would pass for a header."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    raw = buffer.getvalue()
    raw = raw[:1024] + b"z" * 512 + raw[1024:]
    return gzip.compress(raw)


def good() -> bytes:
    return targz(member("a.txt"), member("pkg/b.py", b"print()"))


BAD: dict[str, tuple[Callable[[], bytes], str]] = {
    "parent path": (lambda: targz(member("../evil.py")), r"\.\."),
    "inner parent path": (lambda: targz(member("pkg/../../evil.py")), r"\.\."),
    "absolute path": (lambda: targz(member("/etc/evil")), "absolute"),
    "backslash": (lambda: targz(member("..\\evil")), "backslash"),
    "symlink": (lambda: targz(member("link", None, tarfile.SYMTYPE, "/etc/passwd")), "symbolic link"),
    "hardlink": (lambda: targz(member("a.txt"), member("hard", None, tarfile.LNKTYPE, "a.txt")), "hard link"),
    "fifo": (lambda: targz(member("pipe", None, tarfile.FIFOTYPE)), "FIFO"),
    "device": (lambda: targz(member("dev", None, tarfile.CHRTYPE)), "device"),
    "duplicate": (lambda: targz(member("a.txt"), member("./a.txt")), "twice"),
    "file below a file": (lambda: targz(member("a"), member("a/b")), "below the file"),
    "too many files": (lambda: targz(*(member(f"f{i}") for i in range(4))), "more than 3 files"),
    "too large": (lambda: targz(member("big", b"0" * 5000)), "unpacks to more than"),
    "not gzip": (lambda: b"PK\x03\x04 a zip, say", "not a gzip'd tar"),
    "gzip, not tar": (lambda: gzip.compress(b"just text " * 100), "not a valid tar"),
    "truncated": (lambda: good()[: len(good()) // 2], "truncated"),
    "data after the gzip": (lambda: good() + b"more", "after its gzip stream"),
    "longer than declared": (longer_than_declared, "not a tar header"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_unpack_refuses_a_bad_bundle_and_leaves_nothing(tmp_path, case):
    make, reason = BAD[case]
    parent = tmp_path / "bundles"
    parent.mkdir()
    dest = parent / "digest"
    with pytest.raises(BundleError, match=reason) as refused:
        unpack(make(), dest, max_unpacked=4096, max_files=3)
    assert "\n" not in str(refused.value)
    assert list(parent.iterdir()) == []
    assert not (tmp_path / "evil.py").exists()


def test_a_bundle_already_unpacked_is_kept(tmp_path):
    dest = tmp_path / "bundles" / "digest"
    assert unpack(good(), dest) == dest
    (dest / "a.txt").write_text("the first one")
    assert unpack(good(), dest) == dest
    assert (dest / "a.txt").read_text() == "the first one"
    assert [p.name for p in dest.parent.iterdir()] == ["digest"]


def test_two_threads_unpacking_the_same_bundle_both_succeed(project, tmp_path):
    bundle = pack("all", project)
    assert bundle is not None
    dest = tmp_path / "bundles" / "digest"
    start = threading.Barrier(2)
    results: list[Path | BaseException] = []

    def unpack_one() -> None:
        start.wait()
        try:
            results.append(unpack(bundle.data, dest))
        except BaseException as e:
            results.append(e)

    threads = [threading.Thread(target=unpack_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [dest, dest]
    assert tree(dest) == tree(project)
    assert [p.name for p in dest.parent.iterdir()] == ["digest"]
