# SPDX-License-Identifier: BSD-2-Clause
"""Net's pycaffe interface on top of the C++ binding: ordered dicts of blobs, parameters and
layers, and forward/backward with their keyword arguments (as pycaffe's pycaffe.py).

The dicts are built once per net (a net's structure never changes); the arrays they lead to
(``blob.data``) are made at each access, so a reshape is always seen.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ._fcn import Net, SGDSolver


def _cached(net, key, make):
    value = net.__dict__.get(key)
    if value is None:
        value = make()
        net.__dict__[key] = value
    return value


def _blobs(self):
    """OrderedDict of the net's blobs by name, input to output."""
    return _cached(self, "_blobs_dict", lambda: OrderedDict(zip(self._blob_names, self._blobs)))


def _blob_loss_weights(self):
    """OrderedDict of each blob's loss weight by name."""
    return _cached(self, "_blob_loss_weights_dict",
                   lambda: OrderedDict(zip(self._blob_names, self._blob_loss_weights)))


def _layer_dict(self):
    """OrderedDict of the net's layers by name."""
    return _cached(self, "_layer_dict_cache", lambda: OrderedDict(zip(self._layer_names, self.layers)))


def _params(self):
    """OrderedDict of the parameter blobs (a list per layer) of the layers that have any."""
    return _cached(self, "_params_dict", lambda: OrderedDict(
        (name, layer.blobs) for name, layer in zip(self._layer_names, self.layers)
        if len(layer.blobs) > 0))


def _inputs(self):
    """Names of the net's input blobs."""
    return [self._blob_names[i] for i in self._inputs]


def _outputs(self):
    """Names of the net's output blobs."""
    return [self._blob_names[i] for i in self._outputs]


def _top_names(self):
    """OrderedDict of each layer's top blob names."""
    return _cached(self, "_top_names_dict", lambda: OrderedDict(
        (name, [self._blob_names[j] for j in self._top_ids(i)])
        for i, name in enumerate(self._layer_names)))


def _bottom_names(self):
    """OrderedDict of each layer's bottom blob names."""
    return _cached(self, "_bottom_names_dict", lambda: OrderedDict(
        (name, [self._blob_names[j] for j in self._bottom_ids(i)])
        for i, name in enumerate(self._layer_names)))


def _layer_index(self, name, what):
    try:
        return list(self._layer_names).index(name)
    except ValueError:
        raise ValueError(f"{what}: the net has no layer {name!r}") from None


def _forward(self, blobs=None, start=None, end=None, **kwargs):
    """Runs forward from layer `start` to layer `end` (names; default: the whole net).

    kwargs: input blob name -> array, copied into the input blobs first (all of the net's
    inputs, with their batch size). Returns a dict of the output blobs' data (the net's
    outputs, or `end`'s top, plus `blobs`): views of the blobs' memory, as pycaffe.
    """
    if blobs is None:
        blobs = []
    start_ind = 0 if start is None else _layer_index(self, start, "forward: start")
    if end is not None:
        end_ind = _layer_index(self, end, "forward: end")
        outputs = set(self.top_names[end] + list(blobs))
    else:
        end_ind = len(self.layers) - 1
        outputs = set(self.outputs + list(blobs))
    if kwargs:
        if set(kwargs) != set(self.inputs):
            raise ValueError(f"forward: input arguments {sorted(kwargs)} do not match the net's "
                             f"inputs {self.inputs}")
        for name, array in kwargs.items():
            blob = self.blobs[name]
            if array.shape[0] != blob.shape[0]:
                raise ValueError(f"forward: input {name!r} has batch size {array.shape[0]}, the "
                                 f"blob {blob.shape[0]}")
            blob.data[...] = array
    self._forward(start_ind, end_ind)
    return {out: self.blobs[out].data for out in outputs}


def _backward(self, diffs=None, start=None, end=None, **kwargs):
    """Runs backward from layer `start` down to layer `end` (names; default: the whole net).

    kwargs: output blob name -> array, copied into the output blobs' diffs first (all of the
    net's outputs). Returns a dict of the input blobs' diffs (or `end`'s bottoms', plus
    `diffs`), views as pycaffe.
    """
    if diffs is None:
        diffs = []
    if start is not None:
        start_ind = _layer_index(self, start, "backward: start")
    else:
        start_ind = len(self.layers) - 1
    if end is not None:
        end_ind = _layer_index(self, end, "backward: end")
        outputs = set(self.bottom_names[end] + list(diffs))
    else:
        end_ind = 0
        outputs = set(self.inputs + list(diffs))
    if kwargs:
        if set(kwargs) != set(self.outputs):
            raise ValueError(f"backward: diff arguments {sorted(kwargs)} do not match the net's "
                             f"outputs {self.outputs}")
        for name, array in kwargs.items():
            blob = self.blobs[name]
            if array.shape[0] != blob.shape[0]:
                raise ValueError(f"backward: diff {name!r} has batch size {array.shape[0]}, the "
                                 f"blob {blob.shape[0]}")
            blob.diff[...] = array
    self._backward(start_ind, end_ind)
    return {out: self.blobs[out].diff for out in outputs}


def _forward_all(self, blobs=None, **kwargs):
    """Runs forward over whole batches of inputs (kwargs: name -> array of N items), returning
    each output (and `blobs`) for all N items, copied out batch by batch."""
    if blobs is None:
        blobs = []
    names = set(self.outputs + list(blobs))
    if not kwargs:
        return {k: v.copy() for k, v in self.forward(blobs=blobs).items()}
    n = {len(v) for v in kwargs.values()}
    if len(n) != 1:
        raise ValueError("forward_all: the inputs have different lengths")
    n = n.pop()
    batch = self.blobs[self.inputs[0]].shape[0]
    chunks = {name: [] for name in names}
    for i in range(0, n, batch):
        inputs = {}
        for name, array in kwargs.items():
            part = array[i:i + batch]
            if len(part) < batch:  # pad the last batch, as pycaffe
                part = np.concatenate([part] + [part[-1:]] * (batch - len(part)))
            inputs[name] = part
        out = self.forward(blobs=blobs, **inputs)
        for name in names:
            chunks[name].append(out[name].copy())
    return {name: np.concatenate(parts)[:n] for name, parts in chunks.items()}


Net.blobs = property(_blobs)
Net.blob_loss_weights = property(_blob_loss_weights)
Net.layer_dict = property(_layer_dict)
Net.params = property(_params)
Net.inputs = property(_inputs)
Net.outputs = property(_outputs)
Net.top_names = property(_top_names)
Net.bottom_names = property(_bottom_names)
Net.forward = _forward
Net.backward = _backward
Net.forward_all = _forward_all


def get_solver(filename):
    """The solver of a solver prototxt (its `type`: SGD or Nesterov; as pycaffe's
    get_solver)."""
    return SGDSolver(filename)
