# SPDX-License-Identifier: BSD-2-Clause
"""Layers that fail: in forward (a ValueError on a known line), in setup, and a module with no
such class for the 'missing class' case."""
from __future__ import annotations

import fcn


class RaiseInForward(fcn.Layer):
    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        raise ValueError("boom from the user's forward")  # RAISE_LINE


class RaiseInSetup(fcn.Layer):
    def setup(self, bottom, top):
        raise KeyError("missing key in param_str")
