# SPDX-License-Identifier: BSD-2-Clause
"""fcn.set_precision: bf16 convolutions from Python, checked against a NumPy convolution of the
bf16-rounded operands, and the errors of a bad value or a CPU without bf16 instructions."""
from __future__ import annotations

import numpy as np
import pytest

import pycore_support  # noqa: F401  (puts the build tree on sys.path)

import fcn  # noqa: E402

NET = """
name: "conv"
layer { name: "data" type: "Input" top: "data"
  input_param { shape { dim: 2 dim: 16 dim: 9 dim: 8 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1
    weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "constant" value: 0.25 } } }
"""


def round_bf16(x: np.ndarray) -> np.ndarray:
    """Round to nearest even at bf16 (the upper 16 bits of an fp32)."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def conv_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3, pad 1, stride 1 convolution in float64 (Caffe's layouts)."""
    n, c, h, wd = x.shape
    padded = np.zeros((n, c, h + 2, wd + 2))
    padded[:, :, 1:-1, 1:-1] = x
    out = np.zeros((n, w.shape[0], h, wd))
    for i in range(3):
        for j in range(3):
            patch = padded[:, :, i:i + h, j:j + wd]
            out += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j].astype(np.float64))
    return out + b.reshape(1, -1, 1, 1)


@pytest.fixture()
def net_file(tmp_path):
    path = tmp_path / "conv.prototxt"
    path.write_text(NET)
    return str(path)


@pytest.fixture(autouse=True)
def restore_precision():
    yield
    fcn.set_precision("fp32")


def test_bad_precision_is_a_config_error():
    with pytest.raises(fcn.ConfigError, match='expected "fp32" or "bf16"'):
        fcn.set_precision("fp16")
    assert fcn.precision() == "fp32"


def test_bf16_net_equals_the_rounded_reference(net_file):
    fcn.set_precision("bf16")
    assert fcn.precision() == "bf16"
    try:
        net = fcn.Net(net_file, fcn.TEST)
    except fcn.ConfigError as e:
        assert "no bf16 instructions" in str(e) or "no oneDNN" in str(e)
        pytest.skip(f"no bf16 on this CPU: {e}")
    rng = np.random.default_rng(4)
    x = rng.standard_normal(net.blobs["data"].data.shape).astype(np.float32)
    net.blobs["data"].data[...] = x
    out = net.forward()["conv"].copy()
    w = net.params["conv"][0].data.copy()
    b = net.params["conv"][1].data.copy()
    exact16 = conv_reference(round_bf16(x), round_bf16(w), b)
    exact32 = conv_reference(x, w, b)
    magnitude = conv_reference(np.abs(x), np.abs(w), np.abs(b))
    tolerance = 1e-5 * magnitude + 1e-7
    assert np.all(np.abs(out - exact16) <= tolerance)
    # The products were bf16: most outputs miss the fp32 result by more than fp32 rounding.
    assert np.mean(np.abs(out - exact32) > tolerance) > 0.25

    # The same weights in an fp32 net give the fp32 result.
    fcn.set_precision("fp32")
    net32 = fcn.Net(net_file, fcn.TEST)
    net32.params["conv"][0].data[...] = w
    net32.params["conv"][1].data[...] = b
    net32.blobs["data"].data[...] = x
    out32 = net32.forward()["conv"]
    assert np.all(np.abs(out32 - exact32) <= tolerance)
