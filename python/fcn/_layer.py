# SPDX-License-Identifier: BSD-2-Clause
"""fcn.Layer: the base class of Python layers (``type: "Python"``, docs/python.md).

A net creates the class named by ``python_param { module layer }`` with no arguments, then
sets ``self.param_str`` (python_param.param_str), ``self.phase`` (fcn.TRAIN or fcn.TEST) and
``self.blobs`` (the layer's parameter blobs; ``self.blobs.add_blob(*shape)`` in setup adds
one), and calls, as pycaffe does:

* ``setup(bottom, top)`` once, then ``reshape(bottom, top)``;
* before every forward, ``reshape(bottom, top)`` (data layers load their sample there);
* ``forward(bottom, top)``;
* ``backward(top, propagate_down, bottom)`` when the net needs its gradients.

``bottom`` and ``top`` are lists of the net's fcn.Blob objects: ``.data``/``.diff`` are NumPy
views of the net's memory (no copy), ``top[i].reshape(*shape)`` sizes a top.
"""
from __future__ import annotations


class Layer:
    """Base class of Python layers: override setup, reshape, forward and backward."""

    param_str: str = ""
    phase: int = 0

    def __init__(self, *args, **kwargs):  # pycaffe passes the LayerParameter; unused here
        pass

    def setup(self, bottom, top):
        """Called once, before the first reshape: read self.param_str, check the blob counts."""

    def reshape(self, bottom, top):
        """Called before every forward: size the tops with top[i].reshape(...)."""

    def forward(self, bottom, top):
        """Writes top[i].data from bottom[i].data."""

    def backward(self, top, propagate_down, bottom):
        """Writes bottom[i].diff where propagate_down[i] from top[i].diff."""
