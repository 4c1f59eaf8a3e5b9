# SPDX-License-Identifier: BSD-2-Clause
"""A layer module written for pycaffe: it imports caffe (fcn's compatibility package) and
subclasses caffe.Layer."""
import caffe


class Constant(caffe.Layer):
    def setup(self, bottom, top):
        self.value = float(self.param_str)

    def reshape(self, bottom, top):
        top[0].reshape(2, 3)

    def forward(self, bottom, top):
        top[0].data[...] = self.value + (caffe.TRAIN if self.phase == caffe.TRAIN else 100)
