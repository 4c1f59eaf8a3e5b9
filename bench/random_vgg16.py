#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes a randomly initialised VGG-16-shaped classifier as a Caffe .caffemodel.

The layers carry the names, types and parameter shapes of the ILSVRC VGG-16 model (conv1_1 ..
conv5_3 3x3 convolutions, fc6 and fc7 InnerProduct 4096, fc8 InnerProduct 1000), so that
`fcntool surgery` turns the file into FCN weights exactly as it turns the released model
(fc6 4096x25088 -> 4096x512x7x7 and so on). Weights are MSRA-scaled Gaussians
(std sqrt(2 / fan_in)), fc8 Gaussian with std 0.01, biases zero: random features, not
trained ones. The full model has 138,357,544 parameters (about 553 MB).

The large float arrays are written straight into the protobuf wire format (a packed
`BlobProto.data`), layer by layer, so that no 553 MB message is built in memory; the small
fields come from the fcn_pb2 module of proto/fcn.proto.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "data_scripts"))

import fcn_proto  # noqa: E402  (found through the path above)


@dataclass(frozen=True)
class ParamLayer:
    """One parameter layer: a kxk Convolution (kernel > 0) or an InnerProduct (kernel 0)."""

    name: str
    num_input: int
    num_output: int
    kernel: int = 0

    @property
    def weight_shape(self) -> tuple[int, ...]:
        if self.kernel:
            return (self.num_output, self.num_input, self.kernel, self.kernel)
        return (self.num_output, self.num_input)

    @property
    def fan_in(self) -> int:
        return self.num_input * max(self.kernel, 1) ** 2


def vgg16_layers() -> list[ParamLayer]:
    """The parameter layers of VGG-16 (ILSVRC, 224x224 input, 1000 classes)."""
    layers = []
    channels = 3
    for stage, (width, count) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)],
                                           start=1):
        for i in range(1, count + 1):
            layers.append(ParamLayer(f"conv{stage}_{i}", channels, width, kernel=3))
            channels = width
    layers.append(ParamLayer("fc6", 512 * 7 * 7, 4096))
    layers.append(ParamLayer("fc7", 4096, 4096))
    layers.append(ParamLayer("fc8", 4096, 1000))
    return layers


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int) -> bytes:
    """The key of a length-delimited field (wire type 2)."""
    return _varint(field << 3 | 2)


# Field numbers of proto/fcn.proto (Caffe's).
_NET_LAYER = 100
_LAYER_BLOBS = 7
_BLOB_DATA = 5


def _layer_header(pb, layer: ParamLayer) -> bytes:
    """The serialised LayerParameter without its blobs."""
    msg = pb.LayerParameter(name=layer.name)
    if layer.kernel:
        msg.type = "Convolution"
        msg.convolution_param.num_output = layer.num_output
        msg.convolution_param.kernel_size.append(layer.kernel)
        msg.convolution_param.pad.append(layer.kernel // 2)
    else:
        msg.type = "InnerProduct"
        msg.inner_product_param.num_output = layer.num_output
    for lr_mult, decay_mult in ((1.0, 1.0), (2.0, 0.0)):
        msg.param.add(lr_mult=lr_mult, decay_mult=decay_mult)
    return msg.SerializeToString()


def _blob_shape(pb, shape: Sequence[int]) -> bytes:
    msg = pb.BlobProto()
    msg.shape.dim.extend(shape)
    return msg.SerializeToString()


def _weights(rng: np.random.Generator, layer: ParamLayer) -> np.ndarray:
    std = 0.01 if layer.name == "fc8" else float(np.sqrt(2.0 / layer.fan_in))
    values = rng.standard_normal(int(np.prod(layer.weight_shape)), dtype=np.float32)
    values *= np.float32(std)
    return values


def write_classifier(out: BinaryIO, layers: Sequence[ParamLayer], seed: int,
                     name: str = "VGG_ILSVRC_16_layers_random") -> int:
    """Writes the NetParameter of ``layers`` with random weights to ``out``; returns the
    parameter count."""
    pb = fcn_proto.load()
    rng = np.random.default_rng(seed)
    out.write(pb.NetParameter(name=name).SerializeToString())
    total = 0
    for layer in layers:
        header = _layer_header(pb, layer)
        shapes = [layer.weight_shape, (layer.num_output,)]
        blob_heads = []
        for shape in shapes:
            nbytes = 4 * int(np.prod(shape))
            blob_heads.append(_blob_shape(pb, shape) + _key(_BLOB_DATA) + _varint(nbytes))
        blob_sizes = [len(h) + 4 * int(np.prod(s)) for h, s in zip(blob_heads, shapes)]
        layer_size = len(header) + sum(len(_key(_LAYER_BLOBS)) + len(_varint(n)) + n
                                       for n in blob_sizes)
        out.write(_key(_NET_LAYER) + _varint(layer_size) + header)
        for shape, head, size in zip(shapes, blob_heads, blob_sizes):
            values = (_weights(rng, layer) if len(shape) > 1
                      else np.zeros(shape, dtype=np.float32))
            out.write(_key(_LAYER_BLOBS) + _varint(size) + head)
            out.write(values.astype("<f4", copy=False).tobytes())
            total += values.size
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="random_vgg16.py", description=__doc__.split("\n\n")[0],
        epilog="example: random_vgg16.py --out /tmp/vgg16-random.caffemodel")
    parser.add_argument("--out", type=Path, required=True, help="the .caffemodel to write")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    with open(args.out, "wb") as out:
        count = write_classifier(out, vgg16_layers(), args.seed)
    print(f"{args.out}: VGG-16 classifier, {count} random parameters, "
          f"{args.out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
