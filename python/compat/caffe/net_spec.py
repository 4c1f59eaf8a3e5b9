# SPDX-License-Identifier: BSD-2-Clause
"""caffe.net_spec: fcn.net_spec (NetSpec, layers, params, to_proto)."""
try:
    from fcn.net_spec import *  # noqa: F401,F403
    from fcn.net_spec import NetSpec, layers, params, to_proto  # noqa: F401
except ModuleNotFoundError as e:
    raise ImportError(f"caffe.net_spec: this fcn has no fcn.net_spec: {e}") from e
