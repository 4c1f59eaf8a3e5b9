# SPDX-License-Identifier: BSD-2-Clause
"""A pass-through layer that records the order of its calls (setup, reshape, forward,
backward) in CountingLayer.events, and a layer that can be given its own parameter blob."""
from __future__ import annotations

import fcn


class CountingLayer(fcn.Layer):
    events = []

    def setup(self, bottom, top):
        CountingLayer.events.append("setup")

    def reshape(self, bottom, top):
        CountingLayer.events.append("reshape")
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        CountingLayer.events.append("forward")
        top[0].data[...] = 2 * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        CountingLayer.events.append("backward")
        if propagate_down[0]:
            bottom[0].diff[...] = 2 * top[0].diff


class ScaleByParam(fcn.Layer):
    """top = w * bottom with one learnable scalar w (self.blobs[0], initialised to 3)."""

    def setup(self, bottom, top):
        self.blobs.add_blob(1)
        self.blobs[0].data[...] = 3.0

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.blobs[0].data[0] * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[0] += (top[0].diff * bottom[0].data).sum()
        if propagate_down[0]:
            bottom[0].diff[...] = self.blobs[0].data[0] * top[0].diff
