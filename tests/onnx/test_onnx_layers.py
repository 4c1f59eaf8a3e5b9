# SPDX-License-Identifier: BSD-2-Clause
"""fcntool export, layer by layer: small nets with seeded random weights through every mapped
layer type, checked against fcn by ONNX Runtime at two input sizes from one file; Caffe's
pooling size rule where it differs from ONNX's ceil rule; the refusals and notes."""
import subprocess

import numpy as np
import pytest

from test_onnx_export import FCNTOOL, assert_close, fcn_run, make_feeds, ort_run, run

INPUT = """
layer {{ name: "input" type: "Input" top: "data"
        input_param {{ shape {{ dim: 1 dim: {c} dim: {h} dim: {w} }} }} }}
"""
G = 'weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.5 }'


def caffe_pooled(size, k, s, p, ceil, any_pad):
    """Caffe's pooled size (pooling_layer.cpp), written out independently of fcn."""
    span = size + 2 * p - k
    n = -(-span // s) + 1 if ceil else span // s + 1
    if any_pad and (n - 1) * s >= size + p:
        n -= 1
    return n


def export(tmp, body, c=3, h=8, w=8, extra=(), outputs=None, fixed=None, check=True):
    """Writes the net, its random weights and the ONNX file; returns (prototxt, weights, onnx,
    export stdout) or the CompletedProcess of a failed export when check is False."""
    proto = tmp / "net.prototxt"
    proto.write_text('name: "t"\n' + INPUT.format(c=c, h=h, w=w) + body)
    weights = tmp / "w.caffemodel"
    run([FCNTOOL, "surgery", f"--model={proto}", f"--output={weights}", "--interp_layers=none",
         "--random_seed=3"])
    onnx_path = tmp / "net.onnx"
    cmd = [FCNTOOL, "export", f"--model={proto}", f"--weights={weights}", f"--output={onnx_path}",
           *extra]
    if outputs:
        cmd.append(f"--outputs={outputs}")
    if fixed:
        cmd.append(f"--input_size={fixed[0]},{fixed[1]}")
    p = subprocess.run([str(x) for x in cmd], capture_output=True, text=True)
    if not check:
        return p
    assert p.returncode == 0, p.stdout + p.stderr
    import onnx
    onnx.checker.check_model(str(onnx_path), full_check=True)
    return proto, weights, onnx_path, p.stdout


def compare(tmp, proto, weights, onnx_path, blobs, sizes, c=3):
    results = {}
    for k, size in enumerate(sizes):
        d = tmp / f"run{k}"
        feeds = make_feeds({"data": [1, c]}, size, d, seed=10 + k)
        ours = fcn_run(proto, weights, d / "fcn", feeds, blobs)
        _, theirs = ort_run(onnx_path, d / "ort", feeds)
        for b in blobs:
            assert_close(ours[b], theirs[b], f"{b} at {size}")
        results[size] = (ours, theirs)
    return results


def pool(name, pool_type, k, s, p, ceil=True):
    rm = "" if ceil else "round_mode: FLOOR"
    return (f'layer {{ name: "{name}" type: "Pooling" bottom: "data" top: "{name}" '
            f'pooling_param {{ pool: {pool_type} kernel_size: {k} stride: {s} pad: {p} {rm} }} }}\n')


POOLS = [("max_k2s2p1", "MAX", 2, 2, 1, True), ("ave_k2s2p1", "AVE", 2, 2, 1, True),
         ("max_k3s2p1", "MAX", 3, 2, 1, True), ("ave_k3s2p1", "AVE", 3, 2, 1, True),
         ("ave_k3s3p1_floor", "AVE", 3, 3, 1, False), ("max_k3s2p0", "MAX", 3, 2, 0, True),
         ("ave_k3s2p0", "AVE", 3, 2, 0, True), ("max_k2s2p0", "MAX", 2, 2, 0, True)]


def test_pooling_caffe_size_rule_where_onnx_ceil_differs(tmp_path):
    body = "".join(pool(*spec) for spec in POOLS)
    proto, weights, onnx_path, _ = export(tmp_path, body)
    sizes = [(7, 9), (8, 10)]
    results = compare(tmp_path, proto, weights, onnx_path, [s[0] for s in POOLS], sizes)
    # At 7 rows, k2 s2 p1: ONNX's ceil_mode alone would give ceil((7 + 2 - 2) / 2) + 1 = 5 rows;
    # Caffe clips the window that starts in the trailing pad: 4. The export gives Caffe's.
    ours, theirs = results[(7, 9)]
    assert -(-(7 + 2 - 2) // 2) + 1 == 5
    for name, _, k, s, p, ceil in POOLS:
        any_pad = p > 0
        for size in sizes:
            expect = tuple(caffe_pooled(x, k, s, p, ceil, any_pad) for x in size)
            assert results[size][1][name].shape[2:] == expect, (name, size)
    assert theirs["max_k2s2p1"].shape[2] == 4


def test_pooling_without_onnx_form_is_refused(tmp_path):
    # Stride 2 over a 1-wide kernel, ceil, no pad: Caffe's last window can lie wholly outside.
    p = export(tmp_path, pool("sparse", "MAX", 1, 2, 0), check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    assert '"sparse"' in p.stderr and "stride 2 larger than the kernel 1" in p.stderr, p.stderr


MIXED = f"""
layer {{ name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param {{ num_output: 6 kernel_size: 3 pad: 1 group: 2 {G} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" relu_param {{ negative_slope: 0.1 }} }}
layer {{ name: "norm1" type: "LRN" bottom: "conv1" top: "norm1"
  lrn_param {{ local_size: 5 alpha: 0.01 beta: 0.75 k: 2 }} }}
layer {{ name: "pool1" type: "Pooling" bottom: "norm1" top: "pool1"
  pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}
layer {{ name: "up" type: "Deconvolution" bottom: "pool1" top: "up"
  convolution_param {{ num_output: 6 kernel_size: 4 stride: 2 group: 3 {G} }} }}
layer {{ name: "crop" type: "Crop" bottom: "up" bottom: "data" top: "crop" crop_param {{ axis: 2 offset: 1 }} }}
layer {{ name: "conv2" type: "Convolution" bottom: "data" top: "conv2"
  convolution_param {{ num_output: 6 kernel_size: 3 pad: 2 dilation: 2 {G} }} }}
layer {{ name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }}
layer {{ name: "sum" type: "Eltwise" bottom: "crop" bottom: "conv2" top: "sum"
  eltwise_param {{ operation: SUM coeff: 0.5 coeff: -2 }} }}
layer {{ name: "prod" type: "Eltwise" bottom: "sum" bottom: "conv2" top: "prod"
  eltwise_param {{ operation: PROD }} }}
layer {{ name: "max" type: "Eltwise" bottom: "prod" bottom: "crop" bottom: "sum" top: "max"
  eltwise_param {{ operation: MAX }} }}
layer {{ name: "cat" type: "Concat" bottom: "max" bottom: "sum" top: "cat" }}
layer {{ name: "scale" type: "Scale" bottom: "cat" top: "cat"
  scale_param {{ filler {{ type: "gaussian" std: 1 }} bias_term: true bias_filler {{ type: "gaussian" std: 1 }} }} }}
layer {{ name: "bias" type: "Bias" bottom: "cat" top: "biased" bias_param {{ filler {{ type: "gaussian" std: 1 }} }} }}
layer {{ name: "gate" type: "Scale" bottom: "biased" bottom: "cat" top: "gated" scale_param {{ axis: 0 }} }}
layer {{ name: "drop" type: "Dropout" bottom: "gated" top: "score" }}
layer {{ name: "prob" type: "Softmax" bottom: "score" top: "prob" }}
layer {{ name: "label" type: "ArgMax" bottom: "score" top: "label" argmax_param {{ axis: 1 }} }}
layer {{ name: "unused" type: "Convolution" bottom: "data" top: "unused"
  convolution_param {{ num_output: 2 kernel_size: 1 {G} }} }}
layer {{ name: "silence" type: "Silence" bottom: "unused" }}
"""


def test_every_mapped_layer_two_sizes_one_file(tmp_path):
    proto, weights, onnx_path, _ = export(tmp_path, MIXED, c=4,
                                          outputs="score,prob,label,score:argmax,score:softmax")
    import onnx
    ops = {n.op_type for n in onnx.load(str(onnx_path)).graph.node}
    for op in ("Conv", "ConvTranspose", "LeakyRelu", "Relu", "MaxPool", "Slice", "Shape", "Add",
               "Mul", "Max", "Concat", "LRN", "Softmax", "ArgMax"):
        assert op in ops, op
    assert "Dropout" not in ops, ops
    results = compare(tmp_path, proto, weights, onnx_path, ["score", "prob", "label"],
                      [(8, 10), (11, 7)], c=4)
    for ours, theirs in results.values():
        np.testing.assert_array_equal(theirs["score_argmax"][:, 0], np.argmax(ours["score"], 1))
        e = np.exp(ours["score"] - ours["score"].max(1, keepdims=True))
        assert_close(e / e.sum(1, keepdims=True), theirs["score_softmax"], "score:softmax")


def test_fixed_size_inner_product_and_whole_item_argmax(tmp_path):
    body = f"""
layer {{ name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param {{ num_output: 7 {G} }} }}
layer {{ name: "fct" type: "InnerProduct" bottom: "data" top: "fct"
  inner_product_param {{ num_output: 5 transpose: true {G} }} }}
layer {{ name: "gp" type: "Pooling" bottom: "data" top: "gp" pooling_param {{ pool: AVE global_pooling: true }} }}
layer {{ name: "am" type: "ArgMax" bottom: "data" top: "am" }}
layer {{ name: "sm" type: "Softmax" bottom: "fc" top: "sm" }}
"""
    proto, weights, onnx_path, _ = export(tmp_path, body, h=6, w=5, fixed=(6, 5),
                                          outputs="fc,fct,gp,am,sm")
    compare(tmp_path, proto, weights, onnx_path, ["fc", "fct", "gp", "am", "sm"], [(6, 5)])


def test_loss_layer_dropped_with_note_and_its_label_input_left_out(tmp_path):
    body = f"""
layer {{ name: "label_in" type: "Input" top: "label" input_param {{ shape {{ dim: 1 dim: 1 dim: 8 dim: 8 }} }} }}
layer {{ name: "score" type: "Convolution" bottom: "data" top: "score"
  convolution_param {{ num_output: 4 kernel_size: 1 {G} }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }}
"""
    proto, weights, onnx_path, out = export(tmp_path, body)
    assert 'dropped SoftmaxWithLoss layer "loss"' in out, out
    import onnx
    g = onnx.load(str(onnx_path)).graph
    assert [i.name for i in g.input] == ["data"]
    assert [o.name for o in g.output] == ["score"]


def test_layer_without_mapping_is_an_error_naming_it(tmp_path):
    body = """
layer { name: "noise" type: "DummyData" top: "noise"
  dummy_data_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "sum" type: "Eltwise" bottom: "data" bottom: "noise" top: "sum" }
"""
    p = export(tmp_path, body, check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    assert 'net.prototxt:' in p.stderr and '"noise"' in p.stderr, p.stderr
    assert "DummyData has no ONNX mapping" in p.stderr, p.stderr


@pytest.mark.parametrize("flag,message", [("--opset=12", "opsets 13 to 17"),
                                          ("--outputs=score:relu", "softmax or argmax"),
                                          ("--outputs=nothing", '"nothing" is not a blob'),
                                          ("--input_size=5", "H,W")])
def test_bad_flags(tmp_path, flag, message):
    body = f"""layer {{ name: "score" type: "Convolution" bottom: "data" top: "score"
  convolution_param {{ num_output: 4 kernel_size: 1 {G} }} }}"""
    p = export(tmp_path, body, extra=[flag], check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    assert message in p.stderr, p.stderr


def test_two_inputs_two_heads_two_sizes_and_opencv_fixed(tmp_path):
    """NYUD's late fusion (colour + HHA) and SIFT Flow's two heads on a small net."""
    body = f"""
layer {{ name: "hha_in" type: "Input" top: "hha" input_param {{ shape {{ dim: 1 dim: 3 dim: 8 dim: 8 }} }} }}
layer {{ name: "conv_c" type: "Convolution" bottom: "data" top: "conv_c"
  convolution_param {{ num_output: 4 kernel_size: 4 pad: 3 stride: 2 {G} }} }}
layer {{ name: "conv_h" type: "Convolution" bottom: "hha" top: "conv_h"
  convolution_param {{ num_output: 4 kernel_size: 4 pad: 3 stride: 2 {G} }} }}
layer {{ name: "fuse" type: "Eltwise" bottom: "conv_c" bottom: "conv_h" top: "fuse" }}
layer {{ name: "up_sem" type: "Deconvolution" bottom: "fuse" top: "up_sem"
  convolution_param {{ num_output: 5 kernel_size: 4 stride: 2 {G} }} }}
layer {{ name: "score_sem" type: "Crop" bottom: "up_sem" bottom: "data" top: "score_sem" crop_param {{ offset: 3 }} }}
layer {{ name: "up_geo" type: "Deconvolution" bottom: "fuse" top: "up_geo"
  convolution_param {{ num_output: 3 kernel_size: 4 stride: 2 {G} }} }}
layer {{ name: "score_geo" type: "Crop" bottom: "up_geo" bottom: "data" top: "score_geo" crop_param {{ offset: 3 }} }}
"""
    proto, weights, onnx_path, out = export(tmp_path, body)
    assert "inputs data,hha, outputs score_geo,score_sem" in out, out
    assert "Note" not in out, out  # the offsets are the derived ones
    heads = ["score_sem", "score_geo"]
    for k, size in enumerate([(8, 8), (9, 13)]):
        d = tmp_path / f"run{k}"
        feeds = make_feeds({"data": [1, 3], "hha": [1, 3]}, size, d, seed=k)
        ours = fcn_run(proto, weights, d / "fcn", feeds, heads)
        _, theirs = ort_run(onnx_path, d / "ort", feeds)
        for h in heads:
            assert ours[h].shape[2:] == size
            assert_close(ours[h], theirs[h], f"{h} at {size}")
    # The fixed-size file in OpenCV dnn (the last size's inputs and fcn outputs).
    fixed = tmp_path / "fixed.onnx"
    run([FCNTOOL, "export", f"--model={proto}", f"--weights={weights}", f"--output={fixed}",
         f"--input_size={size[0]},{size[1]}"])
    import cv2
    net = cv2.dnn.readNetFromONNX(str(fixed))
    for name, (a, _) in feeds.items():
        net.setInput(a, name)
    for h, t in zip(heads, net.forward(heads)):
        assert_close(ours[h], t, f"{h} at {size} (OpenCV dnn)")


def test_crop_offset_that_differs_from_the_derived_one_exports_as_fcn_runs_it(tmp_path):
    body = f"""
layer {{ name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param {{ num_output: 4 kernel_size: 4 pad: 3 stride: 2 {G} }} }}
layer {{ name: "up" type: "Deconvolution" bottom: "conv" top: "up"
  convolution_param {{ num_output: 2 kernel_size: 4 stride: 2 {G} }} }}
layer {{ name: "score" type: "Crop" bottom: "up" bottom: "data" top: "score" crop_param {{ offset: 2 }} }}
"""
    proto, weights, onnx_path, out = export(tmp_path, body)
    assert 'Crop "score": the file\'s offset 2 on axis 2 differs from the derived 3' in out, out
    compare(tmp_path, proto, weights, onnx_path, ["score"], [(8, 8), (9, 12)])


def test_opset_17(tmp_path):
    proto, weights, onnx_path, out = export(tmp_path, MIXED, c=4, extra=["--opset=17"],
                                            outputs="score,prob,label")
    assert "opset 17" in out, out
    import onnx
    assert onnx.load(str(onnx_path)).opset_import[0].version == 17
    compare(tmp_path, proto, weights, onnx_path, ["score", "prob", "label"], [(8, 10)], c=4)
