# SPDX-License-Identifier: BSD-2-Clause
"""A Euclidean loss as a Python layer with a backward pass (the computation of Caffe's
EuclideanLoss, written for fcn's tests): loss = sum((a - b)^2) / 2 / N."""
from __future__ import annotations

import numpy as np

import fcn


class EuclideanLossLayer(fcn.Layer):
    def setup(self, bottom, top):
        if len(bottom) != 2:
            raise Exception("EuclideanLossLayer takes two bottoms")

    def reshape(self, bottom, top):
        if bottom[0].count != bottom[1].count:
            raise Exception("the bottoms must have the same number of values")
        self.diff = np.zeros_like(bottom[0].data, dtype=np.float32)
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.diff[...] = bottom[0].data - bottom[1].data
        top[0].data[...] = np.sum(self.diff ** 2) / bottom[0].num / 2.0

    def backward(self, top, propagate_down, bottom):
        for i in range(2):
            if not propagate_down[i]:
                continue
            sign = 1 if i == 0 else -1
            bottom[i].diff[...] = sign * top[0].diff[0] * self.diff / bottom[i].num
