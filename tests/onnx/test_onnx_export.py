# SPDX-License-Identifier: BSD-2-Clause
"""fcntool export checked against fcn's own outputs (issue 21, design.md decision 14).

For each model: seeded random weights (fcntool surgery writes the fillers), or for the
default job's narrow FCN-8s the weights of a short training as that job runs it, one export with
dynamic height and width and one at a fixed size. The ONNX checker (python3-onnx) must accept
both; ONNX Runtime (npm onnxruntime-node, tests/onnx/node_modules) must reproduce fcn's output
blobs within 1e-4 of their largest magnitude at two input sizes from the dynamic file; OpenCV
dnn's ONNX importer (python3-opencv) the same from the fixed file. fcn's outputs come from the
fcn_forward_dump helper. Environment: FCNTOOL, FCN_FORWARD_DUMP (set by ctest).
"""
import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
FCNTOOL = os.environ.get("FCNTOOL", str(ROOT / "build/src/fcntool"))
DUMP = os.environ.get("FCN_FORWARD_DUMP", str(ROOT / "build/tests/fcn_forward_dump"))
TOLERANCE = 1e-4  # of the largest magnitude of fcn's blob

# model -> (two input sizes for ONNX Runtime from one file; the first is also the fixed export).
# Each VGG-16 model moves ~540 MB of weights through surgery, two exports, the checker, three
# runtimes and fcn; on 2 cores that is ~2 CPU-minutes a model, so the normal suite runs
# voc-fcn8s and the narrow CamVid FCN-8s (and test_onnx_layers.py covers several inputs and
# heads on a small net), and the other VGG models run at small sizes under the `slow` label.
FAST = {
    "voc-fcn8s": [(64, 64), (48, 80)],
    "camvid-fcn8s-narrow": [(96, 128), (75, 100)],
    "synthetic-fcn8s-narrow": [(64, 64), (48, 80)],
}
# Models whose weights come from training (the README's default job), not from fillers.
TRAINED = {"synthetic-fcn8s-narrow"}
SMALL_SLOW = {
    "voc-fcn32s": [(64, 64), (40, 72)],
    "siftflow-fcn16s": [(64, 64), (56, 40)],
    "nyud-fcn32s-color-hha": [(48, 64), (64, 40)],
}
SLOW = {
    "voc-fcn8s": [(500, 500), (375, 500)],
    "voc-fcn32s": [(500, 500), (375, 500)],
    "siftflow-fcn16s": [(256, 256), (200, 300)],
    "nyud-fcn32s-color-hha": [(425, 560), (300, 400)],
    "camvid-fcn8s-narrow": [(360, 480), (300, 400)],
}


def run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n"
                             f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.stdout


def have_ort():
    return shutil.which("node") and (HERE / "node_modules/onnxruntime-node").is_dir()


def ort_run(model, out_dir, feeds, extra=()):
    """ONNX Runtime through node; returns (report, {output: array})."""
    if not have_ort():
        pytest.skip("onnxruntime-node is not installed: run scripts/install-onnx-test-deps.sh "
                    "(scripts/install-deps.sh calls it)")
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [f"{name}={','.join(map(str, a.shape))}={path}" for name, (a, path) in feeds.items()]
    report = json.loads(run(["node", HERE / "run_ort.js", model, out_dir, *args, *extra])
                        .strip().splitlines()[-1])
    outs = {name: np.fromfile(out_dir / f"{name}.f32", dtype=np.float32).reshape(dims)
            for name, dims in report["outputs"].items()}
    return report, outs


def fcn_run(prototxt, weights, out_dir, feeds, blobs):
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [f"{name}={','.join(map(str, a.shape))}={path}" for name, (a, path) in feeds.items()]
    text = run([DUMP, prototxt, weights, out_dir, ",".join(blobs), *args])
    outs = {}
    for line in text.strip().splitlines():
        name, *dims = line.split()
        outs[name] = np.fromfile(out_dir / f"{name}.f32", dtype=np.float32).reshape(
            [int(d) for d in dims])
    return outs


def make_feeds(inputs, size, out_dir, seed):
    """Seeded random inputs (roughly mean-subtracted pixel values) for every graph input
    (`inputs`: name -> dims)."""
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    feeds = {}
    for name, dims in inputs.items():
        shape = list(dims[:2]) + list(size)
        a = rng.uniform(-60, 60, size=shape).astype(np.float32)
        path = out_dir / f"in_{name}.f32"
        a.tofile(path)
        feeds[name] = (a, path)
    return feeds


def assert_close(ours, theirs, what):
    assert ours.shape == theirs.shape, f"{what}: shape {theirs.shape}, fcn {ours.shape}"
    scale = float(np.abs(ours).max())
    assert scale > 0, f"{what}: fcn's blob is all zeros (the comparison would prove nothing)"
    err = float(np.abs(ours - theirs).max())
    assert err <= TOLERANCE * scale, f"{what}: max |diff| {err:.3g} > {TOLERANCE} * {scale:.3g}"
    return err / scale


def fcn_pb2(tmp):
    """The Python classes of proto/fcn.proto, generated with protoc into `tmp`."""
    import importlib.util
    out = tmp / "pb"
    out.mkdir(exist_ok=True)
    run(["protoc", f"--python_out={out}", f"-I{ROOT / 'proto'}", ROOT / "proto/fcn.proto"])
    spec = importlib.util.spec_from_file_location("fcn_pb2", out / "fcn_pb2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_weights(prototxt, tmp):
    """Seeded random weights for every layer: a copy of the net whose (de)convolutions and
    inner products get MSRA weights and Gaussian biases (the deploy nets have no fillers, and
    random deconvolution kernels, unlike bilinear ones, expose a transposed layout), written
    by fcntool surgery."""
    from google.protobuf import text_format
    pb = fcn_pb2(tmp)
    net = text_format.Parse(prototxt.read_text(), pb.NetParameter())
    for layer in net.layer:
        for p in (layer.convolution_param, layer.inner_product_param):
            if layer.type in ("Convolution", "Deconvolution", "InnerProduct") and (
                    p is layer.inner_product_param) == (layer.type == "InnerProduct"):
                p.weight_filler.type = "msra"
                p.bias_filler.type = "gaussian"
                p.bias_filler.std = 0.5
    filled = tmp / "filled.prototxt"
    filled.write_text(text_format.MessageToString(net))
    weights = tmp / "w.caffemodel"
    run([FCNTOOL, "surgery", f"--model={filled}", f"--output={weights}", "--interp_layers=none",
         "--random_seed=21"])
    return weights


TRAIN_ITERS = 40


def default_job_weights(tmp):
    """The narrow FCN-8s of the README's default job (scripts/demo.sh), trained as the job
    trains it, only shorter: the project's synthetic scenes converted to LMDB, msra-initialised
    weights with bilinear upsampling from fcntool surgery, then TRAIN_ITERS iterations of the
    job's own solver (solvers/synthetic-fcn8s-narrow.prototxt). Returns the trained
    .caffemodel and the training log; a trained net's outputs are far from its fillers', so
    the exporter is checked on the values it will meet in deployment."""
    py = "/usr/bin/python3"
    data = tmp / "synthetic"
    run([py, ROOT / "data_scripts/make_synthetic.py", "--out", data, "--count", "30", "--size",
         "64", "--seed", "3", "--force"])
    nets = {}
    for split, phase in (("train", "train"), ("val", "val")):
        db = tmp / f"db-{split}"
        run([py, ROOT / "data_scripts/convert_camvid.py", "--root", data, "--split", split,
             "--out", db, "--force"])
        text = (ROOT / f"models/synthetic-fcn8s-narrow/{phase}.prototxt").read_text()
        text = text.replace(f'"../../out/db/synthetic-{split}"', f'"{db}"')
        assert str(db) in text, f"the {phase} net's data source moved"
        nets[phase] = tmp / f"{phase}.prototxt"
        nets[phase].write_text(text)
    init = tmp / "init.caffemodel"
    run([FCNTOOL, "surgery", f"--model={nets['val']}", f"--output={init}"])
    solver = []
    for line in (ROOT / "solvers/synthetic-fcn8s-narrow.prototxt").read_text().splitlines():
        key = line.split(":")[0].strip()
        line = {"train_net": f'train_net: "{nets["train"]}"',
                "test_net": f'test_net: "{nets["val"]}"',
                "max_iter": f"max_iter: {TRAIN_ITERS}", "test_interval": "test_interval: 100000",
                "test_iter": "test_iter: 1", "snapshot": "snapshot: 0",
                "display": "display: 10",
                "snapshot_prefix": f'snapshot_prefix: "{tmp / "fcn8s"}"'}.get(key, line)
        solver.append(line)
    (tmp / "solver.prototxt").write_text("\n".join(solver) + "\n")
    p = subprocess.run([FCNTOOL, "train", f"--solver={tmp / 'solver.prototxt'}",
                        f"--weights={init}"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    weights = tmp / f"fcn8s_iter_{TRAIN_ITERS}.caffemodel"
    assert weights.is_file(), p.stderr[-3000:]
    return weights, p.stderr


class Exported:
    """Weights (seeded random ones, or the default job's trained ones) and the two exports of
    one model, made once per test module."""

    def __init__(self, name, sizes, tmp):
        self.name, self.sizes, self.tmp = name, sizes, tmp
        self.prototxt = ROOT / "models" / name / "deploy.prototxt"
        self.train_log = ""
        if name in TRAINED:
            self.weights, self.train_log = default_job_weights(tmp)
        else:
            self.weights = random_weights(self.prototxt, tmp)
        self.dynamic = tmp / "dynamic.onnx"
        self.export_log = run([FCNTOOL, "export", f"--model={self.prototxt}",
                               f"--weights={self.weights}", f"--output={self.dynamic}"])
        h, w = sizes[0]
        self.fixed = tmp / "fixed.onnx"
        run([FCNTOOL, "export", f"--model={self.prototxt}", f"--weights={self.weights}",
             f"--output={self.fixed}", f"--input_size={h},{w}"])
        import onnx
        m = onnx.load(str(self.dynamic), load_external_data=False)
        self.outputs = [o.name for o in m.graph.output]
        self.fcn = {}
        self.inputs = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
                       for i in m.graph.input}
        self.opset = m.opset_import[0].version
        self.symbolic = all(i.type.tensor_type.shape.dim[2].dim_param and
                            i.type.tensor_type.shape.dim[3].dim_param for i in m.graph.input)
        del m


def exported(request, tmp_path_factory, table):
    name = request.param
    return Exported(name, table[name], tmp_path_factory.mktemp(name))


@pytest.fixture(scope="module", params=sorted(FAST))
def fast_model(request, tmp_path_factory):
    return exported(request, tmp_path_factory, FAST)


@pytest.fixture(scope="module", params=sorted(SMALL_SLOW))
def small_slow_model(request, tmp_path_factory):
    return exported(request, tmp_path_factory, SMALL_SLOW)


@pytest.fixture(scope="module", params=sorted(SLOW))
def slow_model(request, tmp_path_factory):
    return exported(request, tmp_path_factory, SLOW)


def check_file(m):
    import onnx
    # full_check adds ONNX's shape inference (symbolic H and W through every node); the fixed
    # file gets the structural check (it differs only in its constant shapes and Crop ends).
    onnx.checker.check_model(str(m.dynamic), full_check=True)
    onnx.checker.check_model(str(m.fixed))
    assert m.opset == 13
    assert m.symbolic, "a dynamic export has symbolic height and width on every input"


def fcn_at(m, k):
    """Inputs at size k and fcn's outputs for them, computed once per model and size."""
    if k not in m.fcn:
        d = m.tmp / f"size{k}"
        feeds = make_feeds(m.inputs, m.sizes[k], d, seed=k)
        m.fcn[k] = (feeds, fcn_run(m.prototxt, m.weights, d / "fcn", feeds, m.outputs))
    return m.fcn[k]


def check_ort(m):
    for k, size in enumerate(m.sizes):
        feeds, ours = fcn_at(m, k)
        _, theirs = ort_run(m.dynamic, m.tmp / f"size{k}" / "ort", feeds)
        for name in m.outputs:
            assert ours[name].shape[2:] == tuple(size), "FCN outputs match the input size"
            assert_close(ours[name], theirs[name], f"{m.name} {name} at {size} (ONNX Runtime)")


def check_opencv(m):
    import cv2
    feeds, ours = fcn_at(m, 0)
    net = cv2.dnn.readNetFromONNX(str(m.fixed))
    for name, (a, _) in feeds.items():
        net.setInput(a, name)
    theirs = net.forward(m.outputs)
    for name, t in zip(m.outputs, theirs):
        assert_close(ours[name], t, f"{m.name} {name} at {m.sizes[0]} (OpenCV dnn)")


def test_opencv_dynamic_file(fast_model):
    """OpenCV 4.6's importer folds shapes when it loads, so it refuses the Shape node that a
    dynamic Crop reads (Debian's 4.6: "!isDynamicShape in function 'parseShape'"); export
    with --input_size for OpenCV. Should a later OpenCV load the file, it must get fcn's
    numbers."""
    import cv2
    m = fast_model
    if "Crop" not in m.prototxt.read_text():
        pytest.skip("no Crop")
    try:
        net = cv2.dnn.readNetFromONNX(str(m.dynamic))
    except cv2.error as e:
        assert "isDynamicShape" in str(e), str(e)
        return
    feeds, ours = fcn_at(m, 1)
    for name, (a, _) in feeds.items():
        net.setInput(a, name)
    for name, t in zip(m.outputs, net.forward(m.outputs)):
        assert_close(ours[name], t, f"{m.name} {name} at {m.sizes[1]} (OpenCV, dynamic file)")


def test_checker_accepts(fast_model):
    check_file(fast_model)


def test_onnxruntime_two_sizes_one_file(fast_model):
    check_ort(fast_model)


def test_opencv_fixed_size(fast_model):
    check_opencv(fast_model)


def test_default_job_net_was_trained(fast_model):
    """The trained model's weights really come from training: its loss fell."""
    m = fast_model
    if m.name not in TRAINED:
        pytest.skip("random weights")
    import re
    losses = [float(v) for v in re.findall(r"Iteration \d+ \(.*?\), loss = ([0-9.eE+-]+)",
                                            m.train_log)]
    assert len(losses) >= 3, m.train_log[-2000:]
    assert losses[-1] < losses[0], losses


@pytest.mark.slow
def test_small_vgg_models_checker_onnxruntime_opencv(small_slow_model):
    check_file(small_slow_model)
    check_ort(small_slow_model)
    check_opencv(small_slow_model)


@pytest.mark.slow
def test_full_size_checker_onnxruntime_opencv(slow_model):
    check_file(slow_model)
    check_ort(slow_model)
    check_opencv(slow_model)
