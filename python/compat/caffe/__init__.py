# SPDX-License-Identifier: BSD-2-Clause
"""caffe: fcn under pycaffe's name (docs/python.md).

This package lives on its own path (build/python/compat, or <prefix>/share/fcn/python-compat
once installed), so it shadows a real Caffe only when that path is put on sys.path. With it,
`import caffe` (including in modules such as Python data layers) gives fcn: the same classes,
`caffe.Net is fcn.Net`.
"""
from __future__ import annotations

import importlib as _importlib

import fcn as _fcn
from fcn import *  # noqa: F401,F403
from fcn import (  # noqa: F401
    TEST, TRAIN, Blob, Net, SGDSolver, NesterovSolver, get_solver, set_device, set_mode_cpu,
    set_mode_gpu, set_random_seed)

# Resolved on first use, from fcn's NetSpec module (fcn/net_spec.py).
_FROM_NET_SPEC = ("layers", "params", "NetSpec", "to_proto")


def __getattr__(name):
    if name in _FROM_NET_SPEC:
        try:
            module = _importlib.import_module("fcn.net_spec")
        except ModuleNotFoundError as e:
            raise ImportError(f"caffe.{name}: this fcn has no NetSpec (fcn.net_spec): {e}") from e
        return getattr(module, name)
    if name in ("coord_map", "net_spec"):
        return _importlib.import_module(f"caffe.{name}")
    if hasattr(_fcn, name):
        return getattr(_fcn, name)
    raise AttributeError(f"module 'caffe' (fcn's compatibility package) has no attribute {name!r}")
