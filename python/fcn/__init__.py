# SPDX-License-Identifier: BSD-2-Clause
"""fcn from Python, with pycaffe's names and semantics (docs/python.md).

A pycaffe script runs after changing its import to ``import fcn as caffe`` (or, with the
compatibility package on sys.path, unchanged: ``import caffe``).
"""
from __future__ import annotations

import importlib.util as _importlib_util

from ._fcn import (  # noqa: F401
    TEST,
    TRAIN,
    Blob,
    ConfigError,
    Net,
    SGDSolver,
    crop_offsets,
    has_cuda,
    layer_types,
    num_threads,
    precision,
    set_device,
    set_dnnl_keep_layouts,
    set_mode_cpu,
    set_mode_gpu,
    set_num_threads,
    set_precision,
    set_random_seed,
)
from . import _net  # noqa: F401  (adds blobs, params, forward, backward... to Net)
from ._net import get_solver  # noqa: F401
from ._layer import Layer  # noqa: F401  (the base class of Python layers)

NesterovSolver = get_solver  # the solver type comes from the file

__version__ = "0.1.0"

# The pure-Python parts, present once written (NetSpec: fcn/net_spec.py; coordinate maps:
# fcn/coord_map.py): imported here when their files exist, so `fcn.layers` etc. resolve.
if _importlib_util.find_spec(__name__ + ".net_spec") is not None:
    from . import net_spec  # noqa: F401
    from .net_spec import NetSpec, layers, params, to_proto  # noqa: F401
if _importlib_util.find_spec(__name__ + ".coord_map") is not None:
    from . import coord_map  # noqa: F401
