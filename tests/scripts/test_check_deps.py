# SPDX-License-Identifier: BSD-2-Clause
"""The dependency check (scripts/check_deps.py) itself: the package graph on a fake dpkg
database, the install-deps.sh list, and on the real build tree a package taken out of a copy
of install-deps.sh, which the check must name."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import check_deps  # noqa: E402

# dpkg-query's fields: Package, Status, Essential, Priority, Provides, Depends, Pre-Depends.
FAKE_STATUS = "\n".join([
    "libfoo-dev\tinstall ok installed\tno\toptional\t\tlibfoo1 (= 1.0), libbar-dev | libbaz-dev, ",
    "libfoo1\tinstall ok installed\tno\toptional\t\tlibc6 (>= 2.34), ",
    "libbar-dev\tinstall ok installed\tno\toptional\tlibbar-api\t, ",
    "libbaz-dev\tinstall ok installed\tno\toptional\t\t, ",
    "libqux-dev:amd64\tinstall ok installed\tno\toptional\t\tvirtual-qux, ",
    "qux-provider\tinstall ok installed\tno\toptional\tvirtual-qux\tlibdeep0, ",
    "libdeep0\tinstall ok installed\tno\toptional\t\t, ",
    "libc6\tinstall ok installed\tno\trequired\t\t, ",
    "dash\tinstall ok installed\tyes\trequired\t\t, ",
    "leftover\tdeinstall ok config-files\tno\toptional\t\t, ",
    "lonely-dev\tinstall ok installed\tno\toptional\t\t, ",
    "",
])


def test_parse_reads_installed_packages_only() -> None:
    db = check_deps.PackageDb.parse(FAKE_STATUS)
    assert "leftover" not in db.depends
    assert "libqux-dev" in db.depends  # architecture qualifier dropped
    assert db.base == {"libc6", "dash"}
    assert db.depends["libfoo-dev"] == [["libfoo1"], ["libbar-dev", "libbaz-dev"]]


def test_closure_follows_alternatives_and_provides() -> None:
    db = check_deps.PackageDb.parse(FAKE_STATUS)
    assert db.closure(["libfoo-dev"]) == {"libfoo-dev", "libfoo1", "libc6", "libbar-dev",
                                          "libbaz-dev"}
    # libqux-dev depends on a virtual package: its provider and the provider's dependencies.
    assert db.closure(["libqux-dev"]) == {"libqux-dev", "qux-provider", "libdeep0"}
    # Listing a virtual name means its provider.
    assert db.closure(["libbar-api"]) == {"libbar-dev"}


def test_check_names_the_missing_package_and_the_file() -> None:
    db = check_deps.PackageDb.parse(FAKE_STATUS)
    used = {"/usr/include/foo.h": "CMakeCache.txt (FOO_INCLUDE_DIR)",
            "/usr/lib/liblonely.so": "build/src/fcntool (ldd)",
            "/usr/lib/libc.so.6": "build/src/fcntool (ldd)",
            "/usr/local/cuda/lib64/libcudart.so": "build/src/fcntool (ldd)"}
    owner = {"/usr/include/foo.h": "libfoo-dev", "/usr/lib/liblonely.so": "lonely-dev",
             "/usr/lib/libc.so.6": "libc6"}  # no owner: outside Debian, not checked
    problems = check_deps.check(used, owner, {"libfoo-dev"}, db)
    assert len(problems) == 1
    assert "'lonely-dev'" in problems[0] and "/usr/lib/liblonely.so" in problems[0]
    assert "build/src/fcntool (ldd)" in problems[0]
    assert check_deps.check(used, owner, {"libfoo-dev", "lonely-dev"}, db) == []


def test_listed_packages_skips_comments(tmp_path: Path) -> None:
    f = tmp_path / "install-deps.sh"
    f.write_text("#!/bin/sh\npackages=(\n  # build tools\n  cmake ninja-build  # the generator\n"
                 "  libfoo-dev\n)\nfor p in \"${packages[@]}\"; do :; done\n")
    assert check_deps.listed_packages(f) == {"cmake", "ninja-build", "libfoo-dev"}


def test_imported_modules_are_top_level_names(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("import numpy as np\nimport os.path\nfrom PIL import Image\nfrom . import x\n"
                 "def f():\n    import lmdb\n")
    assert check_deps.imported_modules(f) == {"numpy", "os", "PIL", "lmdb"}


def _build_dir() -> Path:
    build = Path(os.environ.get("FCN_BUILD_DIR", ROOT / "build"))
    if not (build / "CMakeCache.txt").is_file():
        pytest.skip(f"no configured build tree at {build} (set FCN_BUILD_DIR)")
    return build


def _run(build: Path, install_deps: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts/check-deps.sh"), str(build),
                           "--install-deps", str(install_deps)], text=True, capture_output=True)


def test_real_build_tree_passes() -> None:
    r = _run(_build_dir(), ROOT / "scripts/install-deps.sh")
    assert r.returncode == 0, r.stderr
    assert "check-deps: ok:" in r.stdout


@pytest.mark.parametrize("package,needle", [("liblmdb-dev", "lmdb"),
                                            ("ocl-icd-opencl-dev", "OpenCL")])
def test_a_package_taken_out_of_install_deps_is_named(tmp_path: Path, package: str,
                                                     needle: str) -> None:
    text = (ROOT / "scripts/install-deps.sh").read_text()
    assert f"  {package}\n" in text
    fake = tmp_path / "install-deps.sh"
    fake.write_text(text.replace(f"  {package}\n", "\n"))
    r = _run(_build_dir(), fake)
    assert r.returncode == 1, r.stdout
    line = next(x for x in r.stderr.splitlines() if f"'{package}'" in x)
    assert needle in line and "add '" + package + "' to install-deps.sh" in line
