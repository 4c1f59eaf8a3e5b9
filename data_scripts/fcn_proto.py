# SPDX-License-Identifier: BSD-2-Clause
# Finds or generates the Python module for proto/fcn.proto, so the data scripts need no PYTHONPATH.
"""Locate the generated ``fcn_pb2`` module for the data scripts.

Order of preference:
  1. the cache ``data_scripts/.generated/fcn_pb2.py`` when it was generated from the current
     ``proto/fcn.proto`` (a SHA-256 stamp beside it says so);
  2. ``protoc --python_out`` into that cache (protobuf-compiler, installed by
     ``scripts/install-deps.sh``), or into a per-user temporary folder when the checkout is
     read-only;
  3. a CMake build's ``build*/proto/gen/python/fcn_pb2.py`` that is newer than ``fcn.proto``.
Otherwise a :class:`ProtoModuleError` says what to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

SCRIPTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPTS_DIR.parent
PROTO_FILE = REPO_ROOT / "proto" / "fcn.proto"
CACHE_DIR = SCRIPTS_DIR / ".generated"

_module: ModuleType | None = None


class ProtoModuleError(RuntimeError):
    """The fcn_pb2 module could neither be found nor generated."""


def _proto_digest() -> str:
    return hashlib.sha256(PROTO_FILE.read_bytes()).hexdigest()


def _import_from(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("fcn_pb2", path)
    if spec is None or spec.loader is None:
        raise ProtoModuleError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fcn_pb2"] = module
    spec.loader.exec_module(module)
    return module


def _cached_in(cache: Path, digest: str) -> Path | None:
    module = cache / "fcn_pb2.py"
    stamp = cache / "fcn.proto.sha256"
    if module.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return module
    return None


def _generate_into(protoc: str, digest: str, cache: Path) -> Path:
    cache.mkdir(exist_ok=True)
    # Generate into a private directory, then rename: concurrent runs never see half a file.
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        result = subprocess.run(
            [protoc, f"--python_out={tmp}", f"-I{PROTO_FILE.parent}", str(PROTO_FILE)],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ProtoModuleError(
                f"protoc failed on {PROTO_FILE} (exit {result.returncode}): "
                f"{result.stderr.strip()}")
        stamp_tmp = Path(tmp) / "stamp"
        stamp_tmp.write_text(digest + "\n")
        os.replace(Path(tmp) / "fcn_pb2.py", cache / "fcn_pb2.py")
        os.replace(stamp_tmp, cache / "fcn.proto.sha256")
    return cache / "fcn_pb2.py"


def _find_protoc() -> str | None:
    # Debian's protoc matches Debian's python3-protobuf; another one on PATH may be newer.
    if os.access("/usr/bin/protoc", os.X_OK):
        return "/usr/bin/protoc"
    return shutil.which("protoc")


def _generate(digest: str) -> Path | None:
    protoc = _find_protoc()
    if protoc is None:
        return None
    try:
        return _generate_into(protoc, digest, CACHE_DIR)
    except OSError:
        # A read-only checkout: use a per-user temporary cache instead.
        fallback = Path(tempfile.gettempdir()) / f"fcn_pb2-{os.getuid()}-{digest[:16]}"
        return _cached_in(fallback, digest) or _generate_into(protoc, digest, fallback)


def _from_build_dir() -> Path | None:
    proto_mtime = PROTO_FILE.stat().st_mtime
    candidates = sorted(REPO_ROOT.glob("build*/proto/gen/python/fcn_pb2.py"),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    for candidate in candidates:
        if candidate.stat().st_mtime >= proto_mtime:
            return candidate
    return None


def load() -> ModuleType:
    """Returns the fcn_pb2 module (Datum and the other fcn.proto messages)."""
    global _module
    if _module is not None:
        return _module
    if not PROTO_FILE.is_file():
        raise ProtoModuleError(f"{PROTO_FILE}: not found (the data scripts live in the fcn tree)")
    digest = _proto_digest()
    path = _cached_in(CACHE_DIR, digest) or _generate(digest) or _from_build_dir()
    if path is None:
        raise ProtoModuleError(
            f"cannot find or generate the Python module for {PROTO_FILE}: protoc is not on PATH "
            "and no build directory holds proto/gen/python/fcn_pb2.py; install protobuf-compiler "
            "and python3-protobuf (bash scripts/install-deps.sh)")
    try:
        _module = _import_from(path)
    except ImportError as error:
        raise ProtoModuleError(
            f"{path}: cannot import ({error}); install python3-protobuf "
            "(bash scripts/install-deps.sh)") from error
    return _module
