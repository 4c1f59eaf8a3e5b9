# SPDX-License-Identifier: BSD-2-Clause
"""pytest set-up for the Python package's tests (python/tests): the import path and shared fixtures.

The package ``fcn`` is taken, in this order, from:
  1. wherever it already imports from: ctest's ``python_pytest`` runs with
     ``PYTHONPATH=<build>/python``;
  2. ``$FCN_BUILD_DIR/python`` (default ``build/python``) when the build made it;
  3. the source tree's ``python/`` with the build's generated ``fcn_pb2`` (or, without a build,
     the one ``data_scripts/fcn_proto.py`` generates): enough for the pure-Python parts
     (``fcn.net_spec``, ``fcn.log``); tests of the compiled module skip there.

Fixtures: ``repo_root``, ``build_dir``, ``fcntool`` (env ``FCN_TOOL``, else
``<build>/src/fcntool``) and ``fcn_pb2`` (the generated protobuf module the package uses).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _default_build_dir() -> Path:
    env = os.environ.get("FCN_BUILD_DIR")
    return Path(env).resolve() if env else REPO_ROOT / "build"


def _is_regular_package(spec: importlib.machinery.ModuleSpec | None) -> bool:
    return spec is not None and spec.origin is not None and spec.origin.endswith("__init__.py")


def _set_up_import_path() -> None:
    if _is_regular_package(importlib.util.find_spec("fcn")):
        return  # 1: PYTHONPATH (or an installed package) provides it
    built = _default_build_dir() / "python"
    if (built / "fcn" / "__init__.py").is_file():
        sys.path.insert(0, str(built))  # 2
        return
    # 3: the sources; the generated protobuf module from the build or from data_scripts.
    sys.path.insert(0, str(REPO_ROOT / "python"))
    generated = _default_build_dir() / "proto" / "gen" / "python"
    if (generated / "fcn_pb2.py").is_file():
        sys.path.insert(0, str(generated))
    elif importlib.util.find_spec("fcn_pb2") is None:
        sys.path.insert(0, str(REPO_ROOT / "data_scripts"))
        import fcn_proto  # generates fcn_pb2 with protoc and registers it in sys.modules

        fcn_proto.load()


_set_up_import_path()


def _build_dir_in_use() -> Path:
    """The build the package comes from (<build>/python/fcn), else the default build dir."""
    spec = importlib.util.find_spec("fcn")
    if _is_regular_package(spec):
        package = Path(spec.origin).resolve().parent  # type: ignore[union-attr, arg-type]
        if package.parent.name == "python" and (package.parent.parent / "CMakeCache.txt").is_file():
            return package.parent.parent
    return _default_build_dir()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The source tree (models/, solvers/, scripts/ ...)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def build_dir() -> Path:
    """The CMake build directory the package and fcntool come from."""
    return _build_dir_in_use()


@pytest.fixture(scope="session")
def fcntool(build_dir: Path) -> Path:
    """fcntool: $FCN_TOOL, else <build>/src/fcntool (a skip with a message when not built)."""
    env = os.environ.get("FCN_TOOL")
    if env:
        path = Path(env)
        if not path.is_file():
            pytest.fail(f"FCN_TOOL={env}: no such file")
        return path.resolve()
    path = build_dir / "src" / "fcntool"
    if not path.is_file():
        pytest.skip(f"{path} not built (build the fcntool target or set FCN_TOOL)")
    return path


@pytest.fixture(scope="session")
def fcn_pb2() -> ModuleType:
    """The generated protobuf module that fcn.net_spec writes messages of."""
    from fcn import net_spec

    return net_spec.fcn_pb2
