# SPDX-License-Identifier: BSD-2-Clause
"""caffe.coord_map: fcn.coord_map (crop(a, b) from fcn's own coordinate maps)."""
try:
    from fcn.coord_map import *  # noqa: F401,F403
    from fcn.coord_map import crop  # noqa: F401
except ModuleNotFoundError as e:
    raise ImportError(f"caffe.coord_map: this fcn has no fcn.coord_map: {e}") from e
