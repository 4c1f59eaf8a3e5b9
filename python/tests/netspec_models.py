# SPDX-License-Identifier: BSD-2-Clause
"""Nets written with fcn's NetSpec in the style of the FCN reference's ``net.py`` scripts: the
narrow CamVid FCNs (models/camvid-fcn{32,16,8}s-narrow) and the reference's VGG-16 FCN-8s for
PASCAL VOC. Helpers for a conv + ReLU pair and a max pool, one function for trunk and head, the
crops made by a ``crop`` function passed in (fcn's ``coord_map.crop``, or one with fixed offsets
for the tests that run without the compiled module).
"""

from __future__ import annotations

from typing import Callable

from fcn.net_spec import NetSpec, Top, layers as L, params as P

CropFn = Callable[[Top, Top], Top]

LEARNED = [dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)]
FIXED = [dict(lr_mult=0)]

# Channels of the five stages and of fc6/fc7 (VGG-16's 64..512 and 4096, narrowed).
WIDTHS = (16, 32, 64, 128, 128)
FC_WIDTH = 256
CLASSES = 11
MEAN = [110.764, 108.843, 105.479]
SCALE = 0.0129


def conv_relu(bottom: Top, nout: int, ks: int = 3, pad: int = 1,
              filler: str | None = "msra") -> tuple[Top, Top]:
    fillers = dict(weight_filler=dict(type=filler)) if filler else {}
    conv = L.Convolution(bottom, kernel_size=ks, stride=1, num_output=nout, pad=pad,
                         param=LEARNED, **fillers)
    return conv, L.ReLU(conv, in_place=True)


def max_pool(bottom: Top) -> Top:
    return L.Pooling(bottom, pool=P.Pooling.MAX, kernel_size=2, stride=2)


def fixed_crop(offsets: dict[str, int]) -> CropFn:
    """A crop with offsets looked up by the cropped top's NetSpec name (no derivation)."""

    def crop(top_from: Top, top_to: Top) -> Top:
        return L.Crop(top_from, top_to,
                      crop_param=dict(axis=2, offset=offsets[top_from._name_hint or ""]))

    return crop


def vgg_fcn(n: NetSpec, stride: int, crop: CropFn, *, widths: tuple[int, ...], fc_width: int,
            classes: int, filler: str | None, dropout: bool) -> None:
    """VGG-16's trunk on n.data and the FCN-<stride>s head, up to n.score."""

    def score_conv(bottom: Top) -> Top:
        return L.Convolution(bottom, num_output=classes, kernel_size=1, pad=0, param=LEARNED)

    def upsample(bottom: Top, factor: int) -> Top:
        return L.Deconvolution(bottom, convolution_param=dict(
            num_output=classes, kernel_size=2 * factor, stride=factor, bias_term=False),
            param=FIXED)

    bottom = n.data
    for stage, (width, convs) in enumerate(zip(widths, (2, 2, 3, 3, 3)), start=1):
        for i in range(1, convs + 1):
            pad = 100 if (stage, i) == (1, 1) else 1
            n[f"conv{stage}_{i}"], n[f"relu{stage}_{i}"] = conv_relu(bottom, width, pad=pad,
                                                                     filler=filler)
            bottom = n[f"relu{stage}_{i}"]
        n[f"pool{stage}"] = max_pool(bottom)
        bottom = n[f"pool{stage}"]

    n.fc6, n.relu6 = conv_relu(n.pool5, fc_width, ks=7, pad=0, filler=filler)
    fc = n.relu6
    if dropout:
        n.drop6 = fc = L.Dropout(n.relu6, dropout_ratio=0.5, in_place=True)
    n.fc7, n.relu7 = conv_relu(fc, fc_width, ks=1, pad=0, filler=filler)
    fc = n.relu7
    if dropout:
        n.drop7 = fc = L.Dropout(n.relu7, dropout_ratio=0.5, in_place=True)
    n.score_fr = score_conv(fc)

    if stride == 32:
        n.upscore = upsample(n.score_fr, 32)
        n.score = crop(n.upscore, n.data)
        return
    n.upscore2 = upsample(n.score_fr, 2)
    n.score_pool4 = score_conv(n.pool4)
    n.score_pool4c = crop(n.score_pool4, n.upscore2)
    n.fuse_pool4 = L.Eltwise(n.upscore2, n.score_pool4c, operation=P.Eltwise.SUM)
    if stride == 16:
        n.upscore16 = upsample(n.fuse_pool4, 16)
        n.score = crop(n.upscore16, n.data)
        return
    n.upscore_pool4 = upsample(n.fuse_pool4, 2)
    n.score_pool3 = score_conv(n.pool3)
    n.score_pool3c = crop(n.score_pool3, n.upscore_pool4)
    n.fuse_pool3 = L.Eltwise(n.upscore_pool4, n.score_pool3c, operation=P.Eltwise.SUM)
    n.upscore8 = upsample(n.fuse_pool3, 8)
    n.score = crop(n.upscore8, n.data)


def camvid_fcn(split: str, stride: int, crop: CropFn) -> NetSpec:
    """models/camvid-fcn<stride>s-narrow/<split>.prototxt: split train, val or deploy."""
    n = NetSpec()
    if split == "deploy":
        n.data = L.Input(name="input", input_param=dict(shape=dict(dim=[1, 3, 180, 240])))
    else:
        data_param = dict(source=f"../../db/camvid-{split}", batch_size=1, backend=P.Data.LMDB)
        if split == "train":
            data_param.update(shuffle=True, seed=1337)
        n.data, n.label = L.Data(ntop=2, data_param=data_param,
                                 transform_param=dict(scale=SCALE, mean_value=MEAN))
    vgg_fcn(n, stride, crop, widths=WIDTHS, fc_width=FC_WIDTH, classes=CLASSES, filler="msra",
            dropout=split != "deploy")
    if split != "deploy":
        n.loss = L.SoftmaxWithLoss(n.score, n.label,
                                   loss_param=dict(ignore_label=CLASSES, normalize=True))
    return n


def voc_fcn8s(split: str, crop: CropFn) -> NetSpec:
    """The FCN reference's voc-fcn8s/<split>.prototxt (train, val, deploy), with its Python
    data layers, as the reference's net.py writes them."""
    n = NetSpec()
    mean = (104.00699, 116.66877, 122.67892)
    if split == "deploy":
        n.data = L.Input(name="input", input_param=dict(shape=dict(dim=[1, 3, 500, 500])))
    else:
        if split == "train":
            layer = "SBDDSegDataLayer"
            pydata = dict(sbdd_dir="../data/sbdd/dataset", seed=1337, split="train", mean=mean)
        else:
            layer = "VOCSegDataLayer"
            pydata = dict(voc_dir="../data/pascal/VOC2011", seed=1337, split="seg11valid",
                          mean=mean)
        n.data, n.label = L.Python(module="voc_layers", layer=layer, ntop=2,
                                   param_str=str(pydata))
    vgg_fcn(n, 8, crop, widths=(64, 128, 256, 512, 512), fc_width=4096, classes=21,
            filler=None, dropout=split != "deploy")
    if split != "deploy":
        n.loss = L.SoftmaxWithLoss(n.score, n.label,
                                   loss_param=dict(normalize=False, ignore_label=255))
    return n


# The offsets the committed prototxts state (derived by models/generate.py) and the FCN
# reference's, by cropped top.
COMMITTED_OFFSETS = {
    32: {"upscore": 19},
    16: {"score_pool4": 5, "upscore16": 27},
    8: {"score_pool4": 5, "score_pool3": 9, "upscore8": 31},
}
