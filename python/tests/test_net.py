# SPDX-License-Identifier: BSD-2-Clause
"""fcn.Net from Python: NumPy views without copies, forward/backward against NumPy and against
the C++ Net (fcn_forward_dump), weights files, net surgery, errors, and one layer registry."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from pycore_support import FCNTOOL, FORWARD_DUMP, PYTHON_DIR, run

import fcn  # noqa: E402  (pycore_support puts the build tree on sys.path)

CONV_NET = """
name: "conv"
layer { name: "data" type: "Input" top: "data"
  input_param { shape { dim: 2 dim: 3 dim: 6 dim: 7 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3
    weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "constant" value: 0.25 } } }
"""

IP_NET = """
name: "ip"
force_backward: true
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 5 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 1 }
    bias_filler { type: "gaussian" std: 1 } } }
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def conv_reference(x, w, b):
    """Valid cross-correlation, NCHW, as Caffe's Convolution."""
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1), np.float64)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            patch = x[:, :, i:i + kh, j:j + kw].astype(np.float64)
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w.astype(np.float64))
    return out + b.reshape(1, -1, 1, 1)


@pytest.fixture
def conv_net(tmp_path):
    return fcn.Net(str(write(tmp_path, "conv.prototxt", CONV_NET)), fcn.TEST)


def test_net_structure(conv_net):
    net = conv_net
    assert list(net.blobs) == ["data", "conv"]
    assert list(net.params) == ["conv"]
    assert net.inputs == ["data"] and net.outputs == ["conv"]
    assert list(net._layer_names) == ["data", "conv"]
    assert [layer.type for layer in net.layers] == ["Input", "Convolution"]
    assert net.layer_dict["conv"].type == "Convolution"
    assert net.top_names["conv"] == ["conv"] and net.bottom_names["conv"] == ["data"]
    blob = net.blobs["data"]
    assert blob.shape == (2, 3, 6, 7) and blob.count == 252
    assert (blob.num, blob.channels, blob.height, blob.width) == (2, 3, 6, 7)
    w, b = net.params["conv"]
    assert w.data.shape == (4, 3, 3, 3) and b.data.shape == (4,)
    np.testing.assert_array_equal(b.data, np.full(4, 0.25, np.float32))
    assert net.blobs["conv"].shape == (2, 4, 4, 5)


def test_forward_matches_numpy_and_writes_go_into_the_net(conv_net):
    net = conv_net
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    net.blobs["data"].data[...] = x
    out = net.forward()
    w, b = (p.data for p in net.params["conv"])
    np.testing.assert_allclose(out["conv"], conv_reference(x, w, b), rtol=1e-5, atol=1e-5)

    # One buffer: two reads of .data share memory with the blob.
    assert np.shares_memory(net.params["conv"][0].data, net.params["conv"][0].data)
    # A write through a view taken before the pass changes the next pass's output.
    weights = net.params["conv"][0].data
    weights[...] = 0
    net.params["conv"][1].data[...] = np.arange(4, dtype=np.float32)
    out = net.forward()
    expected = np.broadcast_to(np.arange(4, dtype=np.float32).reshape(1, 4, 1, 1), (2, 4, 4, 5))
    np.testing.assert_array_equal(out["conv"], expected)
    # ... and so does a write into the input through a kept view.
    data = net.blobs["data"].data
    data[...] = 1
    weights[...] = 1
    out = net.forward(data=np.ones((2, 3, 6, 7), np.float32))
    np.testing.assert_allclose(out["conv"], expected + 27, rtol=1e-6)


def test_views_keep_the_blob_alive_and_follow_a_reshape(tmp_path):
    net = fcn.Net(str(write(tmp_path, "conv.prototxt", CONV_NET)), fcn.TEST)
    w = net.params["conv"][0].data
    expected = w.copy()
    del net
    np.testing.assert_array_equal(w, expected)  # the view's base holds the blob

    net = fcn.Net(str(write(tmp_path, "conv.prototxt", CONV_NET)), fcn.TEST)
    net.blobs["data"].reshape(1, 3, 10, 12)
    net.reshape()
    assert net.blobs["data"].data.shape == (1, 3, 10, 12)
    assert net.blobs["conv"].data.shape == (1, 4, 8, 10)
    x = np.random.default_rng(1).standard_normal((1, 3, 10, 12)).astype(np.float32)
    out = net.forward(data=x)["conv"]
    w, b = (p.data for p in net.params["conv"])
    np.testing.assert_allclose(out, conv_reference(x, w, b), rtol=1e-5, atol=1e-5)


def test_forward_arguments(conv_net):
    with pytest.raises(ValueError, match="do not match"):
        conv_net.forward(nodata=np.zeros((2, 3, 6, 7), np.float32))
    with pytest.raises(ValueError, match="batch size"):
        conv_net.forward(data=np.zeros((1, 3, 6, 7), np.float32))
    out = conv_net.forward(blobs=["data"], end="conv")
    assert set(out) == {"conv", "data"}
    with pytest.raises(ValueError, match="no layer 'nope'"):
        conv_net.forward(start="nope")


def test_backward_matches_numpy(tmp_path):
    net = fcn.Net(str(write(tmp_path, "ip.prototxt", IP_NET)), fcn.TRAIN)
    x = np.random.default_rng(2).standard_normal((2, 5)).astype(np.float32)
    y = net.forward(data=x)["ip"]
    w, b = (p.data for p in net.params["ip"])
    np.testing.assert_allclose(y, x @ w.T + b, rtol=1e-5, atol=1e-5)
    top = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    net.clear_param_diffs()
    diffs = net.backward(ip=top)
    np.testing.assert_allclose(diffs["data"], top @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(net.params["ip"][0].diff, top.T @ x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(net.params["ip"][1].diff, top.sum(0), rtol=1e-5, atol=1e-5)


def test_forward_equals_the_cpp_net(tmp_path, conv_net):
    """net.forward() against the C++ Net (tests/tools/fcn_forward_dump) on the same prototxt,
    weights and input: equal within 1e-6."""
    if not FORWARD_DUMP.is_file():
        pytest.fail(f"{FORWARD_DUMP}: not built (target fcn_forward_dump)")
    model = tmp_path / "conv.prototxt"
    weights = tmp_path / "conv.caffemodel"
    conv_net.save(str(weights))
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 7)).astype(np.float32)
    x.tofile(tmp_path / "x.bin")
    out_dir = tmp_path / "dump"
    out_dir.mkdir()
    r = run([FORWARD_DUMP, model, weights, out_dir, "conv", f"data=2,3,6,7={tmp_path / 'x.bin'}"])
    assert r.returncode == 0, r.stderr
    cpp = np.fromfile(next(out_dir.glob("conv*")), np.float32).reshape(2, 4, 4, 5)
    py = fcn.Net(str(model), fcn.TEST, weights=str(weights)).forward(data=x)["conv"]
    np.testing.assert_allclose(py, cpp, rtol=0, atol=1e-6)


def test_save_and_copy_from(tmp_path, conv_net):
    conv_net.params["conv"][0].data[...] = np.random.default_rng(5).standard_normal((4, 3, 3, 3))
    for name in ("w.caffemodel", "w.caffemodel.h5"):
        conv_net.save(str(tmp_path / name))
        other = fcn.Net(str(tmp_path / "conv.prototxt"), fcn.TEST)
        assert not np.array_equal(other.params["conv"][0].data, conv_net.params["conv"][0].data)
        other.copy_from(tmp_path / name)
        np.testing.assert_array_equal(other.params["conv"][0].data, conv_net.params["conv"][0].data)
    with open(tmp_path / "w.caffemodel.h5", "rb") as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"
    # the old constructor form: Net(prototxt, weights, phase)
    old = fcn.Net(str(tmp_path / "conv.prototxt"), str(tmp_path / "w.caffemodel"), fcn.TEST)
    np.testing.assert_array_equal(old.params["conv"][0].data, conv_net.params["conv"][0].data)


def test_share_with(tmp_path, conv_net):
    other = fcn.Net(str(tmp_path / "conv.prototxt"), fcn.TEST)
    other.share_with(conv_net)
    conv_net.params["conv"][0].data[...] = 3
    np.testing.assert_array_equal(other.params["conv"][0].data, np.full((4, 3, 3, 3), 3, np.float32))


def upsample_filt(size):
    """The bilinear kernel of the FCN reference's surgery.py."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    return (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)


CLASSIFIER = """
name: "classifier"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "fc6" type: "InnerProduct" bottom: "data" top: "fc6"
  inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 1 }
    bias_filler { type: "gaussian" std: 1 } } }
"""

FULLY_CONV = """
name: "fully-conv"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "fc6-conv" type: "Convolution" bottom: "data" top: "fc6-conv"
  convolution_param { num_output: 3 kernel_size: 4 } }
layer { name: "upscore" type: "Deconvolution" bottom: "fc6-conv" top: "upscore"
  param { lr_mult: 0 }
  convolution_param { num_output: 3 group: 3 kernel_size: 4 stride: 2 bias_term: false } }
"""


def test_surgery_in_the_reference_style_loads_in_fcntool(tmp_path):
    """Fully-connected weights transplanted into a convolution and bilinear kernels put into the
    "up" layer through net.params; the saved caffemodel gives, through the C++ Net, the
    classifier's scores and their bilinear upsampling."""
    classifier = fcn.Net(str(write(tmp_path, "cls.prototxt", CLASSIFIER)), fcn.TEST)
    full = fcn.Net(str(write(tmp_path, "full.prototxt", FULLY_CONV)), fcn.TEST)
    # transplant (net_surgery.ipynb): flat copies of the fc weights and biases
    full.params["fc6-conv"][0].data.flat = classifier.params["fc6"][0].data.flat
    full.params["fc6-conv"][1].data[...] = classifier.params["fc6"][1].data
    # interp_surgery (surgery.py): a bilinear kernel per channel of each "up" layer
    for name in (k for k in full.params if "up" in k):
        m, k, h, w = full.params[name][0].data.shape
        assert k == 1 and h == w
        full.params[name][0].data[range(m), range(k), :, :] = upsample_filt(h)
    weights = tmp_path / "surgery.caffemodel"
    full.save(str(weights))

    x = np.random.default_rng(6).standard_normal((1, 2, 4, 4)).astype(np.float32)
    scores = classifier.forward(data=x)["fc6"].reshape(3)
    x.tofile(tmp_path / "x.bin")
    out_dir = tmp_path / "dump"
    out_dir.mkdir()
    r = run([FORWARD_DUMP, tmp_path / "full.prototxt", weights, out_dir, "fc6-conv,upscore",
             f"data=1,2,4,4={tmp_path / 'x.bin'}"])
    assert r.returncode == 0, r.stderr
    fc = np.fromfile(out_dir / "fc6-conv.bin" if (out_dir / "fc6-conv.bin").exists()
                     else next(out_dir.glob("fc6-conv*")), np.float32)
    np.testing.assert_allclose(fc, scores, rtol=1e-5, atol=1e-5)
    up = np.fromfile(next(p for p in out_dir.iterdir() if p.name.startswith("upscore")),
                     np.float32).reshape(3, 4, 4)
    # stride 2, kernel 4 on a 1x1 input: the output is the kernel scaled by each score
    np.testing.assert_allclose(up, scores.reshape(3, 1, 1) * upsample_filt(4), rtol=1e-5,
                               atol=1e-6)
    # and fcntool accepts the file for the net
    r = run([FCNTOOL, "check", f"--model={tmp_path / 'full.prototxt'}", f"--weights={weights}"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_prototxt_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.prototxt",
                 'name: "bad"\nlayer { name: "x" type: "Input" top: "x"\n  input_param { shap {} } }\n')
    with pytest.raises(fcn.ConfigError, match=re.escape(f"{path}:3")) as e:
        fcn.Net(str(path), fcn.TEST)
    assert isinstance(e.value, ValueError)
    with pytest.raises(ValueError, match="phase"):
        fcn.Net(str(write(tmp_path, "conv.prototxt", CONV_NET)), 7)
    with pytest.raises(ValueError, match="no_such.caffemodel"):
        fcn.Net(str(tmp_path / "conv.prototxt"), fcn.TEST, weights=str(tmp_path / "no_such.caffemodel"))


def test_set_mode_gpu_in_a_cpu_build():
    if fcn.has_cuda:
        pytest.skip("a CUDA build: set_mode_gpu raises only without a usable device")
    with pytest.raises(RuntimeError, match="built without CUDA"):
        fcn.set_mode_gpu()
    with pytest.raises(RuntimeError, match="built without CUDA"):
        fcn.set_device(0)
    fcn.set_mode_cpu()


def test_one_registry_with_fcntool(tmp_path):
    """The module links the shared libfcn (no copy of the library or its registry inside the
    extension), and its layer types are those fcntool lists."""
    types = fcn.layer_types()
    assert "Convolution" in types and "SoftmaxWithLoss" in types
    maps = open("/proc/self/maps").read()
    libs = {line.split()[-1] for line in maps.splitlines() if re.search(r"/libfcn\.so", line)}
    assert len(libs) == 1, libs
    ext = next((PYTHON_DIR / "fcn").glob("_fcn*.so"))
    nm = subprocess.run(["nm", "-D", "--defined-only", "-C", str(ext)], capture_output=True,
                        text=True, check=True).stdout
    assert "fcn::LayerRegistry" not in nm
    assert "libfcn.so" in subprocess.run(["ldd", str(ext)], capture_output=True, text=True).stdout
    path = write(tmp_path, "unknown.prototxt",
                 'layer { name: "x" type: "NoSuchLayerType" top: "x" }\n')
    r = run([FCNTOOL, "check", f"--model={path}"])
    assert r.returncode == 2
    listed = re.search(r"known types: ([^\n]*)", r.stderr).group(1)
    # the module adds "Python" when imported; fcntool, which starts Python only for a net
    # that has a Python layer, lists the others
    assert "Python" in types
    assert [t.strip() for t in listed.split(",")] == [t for t in types if t != "Python"]
    with pytest.raises(fcn.ConfigError, match="NoSuchLayerType"):
        fcn.Net(str(path), fcn.TEST)


def test_crop_offsets_from_the_coordinate_maps():
    from google.protobuf import text_format

    from fcn import fcn_pb2

    param = text_format.Parse("""
        layer { name: "data" type: "Input" top: "data"
                input_param { shape { dim: 1 dim: 1 dim: 20 dim: 20 } } }
        layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
                convolution_param { num_output: 1 kernel_size: 3 pad: 10 } }
        layer { name: "crop" type: "Crop" bottom: "conv" bottom: "data" top: "crop"
                crop_param { axis: 2 offset: 0 } }
        layer { name: "lost" type: "Crop" bottom: "conv" bottom: "other" top: "lost" }
    """, fcn_pb2.NetParameter())
    result = fcn.crop_offsets(param.SerializeToString())
    assert result[0] == ("crop", [9, 9], "")
    assert result[1][0] == "lost" and result[1][1] == [] and result[1][2]
    with pytest.raises(ValueError, match="NetParameter"):
        fcn.crop_offsets(b"\xff\xff\xff")
