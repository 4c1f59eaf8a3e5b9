# SPDX-License-Identifier: BSD-2-Clause
"""A Python data layer in the style of the FCN reference's VOCSegDataLayer (voc_layers.py),
written for fcn's tests and benchmarks: it reads "image label" pairs of PNGs listed in
<dir>/<split>.txt (the CamVid layout of data_scripts/make_synthetic.py) and loads each pair in
reshape(), as the reference does.

param_str is a dict literal: {'dir': ..., 'split': 'train', 'seed': 7, 'randomize': True,
'mean': (110, 110, 110), 'scale': 0.02}. Tops: data (1x3xHxW, BGR, (pixel - mean) * scale) and
label (1x1xHxW, the class index).
"""
from __future__ import annotations

import ast
import os
import random

import numpy as np
from PIL import Image

import fcn


class PNGSegDataLayer(fcn.Layer):
    calls = {"setup": 0, "reshape": 0, "forward": 0}

    def setup(self, bottom, top):
        params = ast.literal_eval(self.param_str)
        self.dir = params["dir"]
        self.split = params.get("split", "train")
        self.mean = np.array(params.get("mean", (0, 0, 0)), dtype=np.float32)
        self.scale = float(params.get("scale", 1.0))
        self.random = params.get("randomize", True)
        self.seed = params.get("seed", None)
        if len(top) != 2:
            raise Exception("Need to define two tops: data and label.")
        if len(bottom) != 0:
            raise Exception("Do not define a bottom.")
        with open(os.path.join(self.dir, f"{self.split}.txt")) as f:
            self.pairs = [line.split() for line in f if line.strip()]
        self.idx = 0
        if self.random:
            random.seed(self.seed)
            self.idx = random.randint(0, len(self.pairs) - 1)
        PNGSegDataLayer.calls["setup"] += 1

    def reshape(self, bottom, top):
        image, label = self.pairs[self.idx]
        self.data = self.load_image(image)
        self.label = self.load_label(label)
        top[0].reshape(1, *self.data.shape)
        top[1].reshape(1, *self.label.shape)
        PNGSegDataLayer.calls["reshape"] += 1

    def forward(self, bottom, top):
        top[0].data[...] = self.data
        top[1].data[...] = self.label
        if self.random:
            self.idx = random.randint(0, len(self.pairs) - 1)
        else:
            self.idx = (self.idx + 1) % len(self.pairs)
        PNGSegDataLayer.calls["forward"] += 1

    def backward(self, top, propagate_down, bottom):
        pass

    def load_image(self, name):
        im = np.array(Image.open(os.path.join(self.dir, name)).convert("RGB"), dtype=np.float32)
        im = im[:, :, ::-1]  # RGB -> BGR, as Caffe's nets expect
        im = (im - self.mean) * self.scale
        return im.transpose((2, 0, 1))

    def load_label(self, name):
        label = np.array(Image.open(os.path.join(self.dir, name)), dtype=np.uint8)
        return label[np.newaxis, ...]
