# SPDX-License-Identifier: BSD-2-Clause
"""Python layers (type: "Python", docs/python.md): a PNG data layer trains a tiny FCN from
fcntool and from fcn.SGDSolver; a Python Euclidean loss matches its NumPy definition and
finite differences; reshape runs before every forward; parameter blobs; errors carry the
Python traceback, the layer and the prototxt file:line (fcntool: exit 1 at run time, exit 2
for a missing module or class; Python: an exception); `import caffe` in a layer module."""
from __future__ import annotations

import re
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pycore_support import COMPAT_DIR, FCNTOOL, PYTHON_DIR, REPO, env_with_paths, run, \
    tiny_fcn, tiny_solver

import fcn  # noqa: E402

LAYERS = Path(__file__).resolve().parent / "pylayers"
if str(LAYERS) not in sys.path:
    sys.path.insert(0, str(LAYERS))

needs_fcntool = pytest.mark.skipif(not FCNTOOL.is_file(), reason=f"{FCNTOOL} not built")


def _python_data_layer(scenes: Path, split="train", randomize=True) -> str:
    param = repr({"dir": str(scenes), "split": split, "seed": 7, "randomize": randomize,
                  "mean": (110, 110, 110), "scale": 0.02}).replace('"', '\\"')
    return f"""layer {{ name: "data" type: "Python" top: "data" top: "label"
  python_param {{ module: "png_seg_layers" layer: "PNGSegDataLayer"
    param_str: "{param}" }} }}"""


def python_fcn(scenes: Path) -> str:
    """tiny_fcn with its LMDB Data layer replaced by the Python PNG data layer."""
    text = tiny_fcn(Path("unused"))
    start = text.index('layer { name: "data"')
    end = text.index('layer { name: "conv1"')
    return text[:start] + _python_data_layer(scenes) + "\n" + text[end:]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("pngs")
    r = run([sys.executable, REPO / "data_scripts" / "make_synthetic.py", "--out", root / "scenes",
             "--count", 10, "--size", 32, "--seed", 1, "--force"])
    assert r.returncode == 0, r.stderr
    return root / "scenes"


def losses_of(log: str) -> list[float]:
    return [float(m) for m in re.findall(r"Iteration \d+ .*?loss = ([-+0-9.eE]+)", log)]


@needs_fcntool
def test_fcntool_trains_from_a_python_data_layer(tmp_path, scenes):
    """The layer module is found in the current directory (Caffe's rule), with no PYTHONPATH:
    fcntool finds the fcn package of its own build tree by itself."""
    shutil.copy(LAYERS / "png_seg_layers.py", tmp_path)
    net = tmp_path / "train.prototxt"
    net.write_text(python_fcn(scenes))
    solver = tmp_path / "solver.prototxt"
    solver.write_text(tiny_solver(net, tmp_path / "snap", 60))
    env = env_with_paths()
    del env["PYTHONPATH"]
    r = run([FCNTOOL, "train", f"--solver={solver}"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    losses = losses_of(r.stderr)
    assert len(losses) >= 10, r.stderr[-3000:]
    assert losses[-1] < 0.8 * losses[0], losses


def test_sgd_solver_steps_a_python_data_layer(tmp_path, scenes):
    net = tmp_path / "train.prototxt"
    net.write_text(python_fcn(scenes))
    solver_file = tmp_path / "solver.prototxt"
    solver_file.write_text(tiny_solver(net, tmp_path / "snap", 200))
    from png_seg_layers import PNGSegDataLayer

    before = dict(PNGSegDataLayer.calls)
    solver = fcn.SGDSolver(str(solver_file))
    losses = []
    for _ in range(60):
        solver.step(1)
        losses.append(float(solver.net.blobs["loss"].data))
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < 0.8 * first, (first, last)
    calls = {k: PNGSegDataLayer.calls[k] - before[k] for k in before}
    assert calls == {"setup": 1, "reshape": 61, "forward": 60}
    # the data top is the layer's image: (pixel - 110) * 0.02 of a real PNG, not zeros
    data = solver.net.blobs["data"].data
    assert data.shape == (1, 3, 32, 32) and np.abs(data).max() > 0.5
    label = solver.net.blobs["label"].data
    assert set(np.unique(label)) <= set(range(6)) and len(np.unique(label)) > 1


def euclidean_net(tmp_path, shape=(2, 3, 4, 5)) -> Path:
    dims = " ".join(f"dim: {d}" for d in shape)
    path = tmp_path / "euclid.prototxt"
    path.write_text(textwrap.dedent(f"""
        force_backward: true
        layer {{ name: "in" type: "Input" top: "a" top: "b"
          input_param {{ shape {{ {dims} }} shape {{ {dims} }} }} }}
        layer {{ name: "loss" type: "Python" bottom: "a" bottom: "b" top: "loss"
          python_param {{ module: "pyloss" layer: "EuclideanLossLayer" }}
          loss_weight: 1 }}
    """))
    return path


def test_python_euclidean_loss_forward_backward_and_finite_differences(tmp_path):
    net = fcn.Net(str(euclidean_net(tmp_path)), fcn.TRAIN)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    b = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    out = net.forward(a=a, b=b)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    expected = np.sum((a64 - b64) ** 2) / 2 / 2
    assert abs(float(out["loss"]) - expected) <= 1e-6 * max(1.0, expected)
    net.backward()
    grad_a = net.blobs["a"].diff.copy()
    grad_b = net.blobs["b"].diff.copy()
    np.testing.assert_allclose(grad_a, (a64 - b64) / 2, atol=1e-6)
    np.testing.assert_allclose(grad_b, -(a64 - b64) / 2, atol=1e-6)
    # central differences of the net's own loss, at 12 coordinates of each bottom
    eps = 1e-2
    for name, grad in (("a", grad_a), ("b", grad_b)):
        for flat in rng.choice(a.size, 12, replace=False):
            idx = np.unravel_index(flat, a.shape)
            x = {"a": a.copy(), "b": b.copy()}
            x[name][idx] += eps
            plus = float(net.forward(**x)["loss"])
            x[name][idx] -= 2 * eps
            minus = float(net.forward(**x)["loss"])
            numeric = (plus - minus) / (2 * eps)
            assert abs(numeric - grad[idx]) <= 2e-3 * max(1.0, abs(grad[idx])), \
                (name, idx, numeric, grad[idx])


def test_reshape_runs_before_every_forward(tmp_path):
    from counting import CountingLayer

    path = tmp_path / "count.prototxt"
    path.write_text(textwrap.dedent("""
        force_backward: true
        layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 } } }
        layer { name: "twice" type: "Python" bottom: "x" top: "y"
          python_param { module: "counting" layer: "CountingLayer" } }
    """))
    CountingLayer.events.clear()
    net = fcn.Net(str(path), fcn.TEST)
    assert CountingLayer.events == ["setup", "reshape"]
    for i in range(3):
        out = net.forward(x=np.full((1, 2), i + 1, np.float32))
        np.testing.assert_array_equal(out["y"], np.full((1, 2), 2 * (i + 1)))
    net.blobs["y"].diff[...] = 1
    net.backward()
    np.testing.assert_array_equal(net.blobs["x"].diff, np.full((1, 2), 2))
    assert CountingLayer.events == ["setup", "reshape"] + ["reshape", "forward"] * 3 + ["backward"]


def test_python_layer_parameter_blobs_are_net_params(tmp_path):
    path = tmp_path / "param.prototxt"
    path.write_text(textwrap.dedent("""
        force_backward: true
        layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 3 } } }
        layer { name: "scale" type: "Python" bottom: "x" top: "y"
          python_param { module: "counting" layer: "ScaleByParam" } }
    """))
    net = fcn.Net(str(path), fcn.TRAIN)
    assert list(net.params) == ["scale"]
    np.testing.assert_array_equal(net.params["scale"][0].data, [3.0])
    net.params["scale"][0].data[...] = 5.0  # a write from outside reaches the layer
    out = net.forward(x=np.array([1, 2, 3], np.float32))
    np.testing.assert_array_equal(out["y"], [5, 10, 15])
    net.blobs["y"].diff[...] = 1
    net.clear_param_diffs()
    net.backward()
    np.testing.assert_array_equal(net.params["scale"][0].diff, [6.0])


def raising_net(tmp_path, module="raising", layer="RaiseInForward") -> Path:
    path = tmp_path / "raise.prototxt"
    path.write_text(textwrap.dedent(f"""\
        name: "raise"
        layer {{ name: "in" type: "Input" top: "x" input_param {{ shape {{ dim: 1 }} }} }}
        layer {{ name: "bad_layer" type: "Python" bottom: "x" top: "y"
          python_param {{ module: "{module}" layer: "{layer}" }} }}
    """))
    return path


def raise_line() -> int:
    lines = (LAYERS / "raising.py").read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if "RAISE_LINE" in line)


@needs_fcntool
def test_fcntool_reports_a_raising_layer_with_traceback_and_exit_1(tmp_path):
    net = raising_net(tmp_path)
    r = run([FCNTOOL, "time", f"--model={net}", "--iterations=1"], cwd=tmp_path,
            env=env_with_paths(LAYERS))
    assert r.returncode == 1, r.stderr
    assert "Traceback (most recent call last)" in r.stderr
    assert f'raising.py", line {raise_line()}, in forward' in r.stderr
    assert "ValueError: boom from the user's forward" in r.stderr
    assert f'{net}:3:1: error: layer "bad_layer" (Python)' in r.stderr
    assert "Aborted" not in r.stderr and "Check failed" not in r.stderr


@needs_fcntool
@pytest.mark.parametrize("module,layer,what", [
    ("no_such_module", "X", 'cannot find the Python module "no_such_module"'),
    ("raising", "NoSuchClass", 'has no class "NoSuchClass"'),
])
def test_fcntool_missing_module_or_class_is_exit_2(tmp_path, module, layer, what):
    net = raising_net(tmp_path, module, layer)
    r = run([FCNTOOL, "time", f"--model={net}", "--iterations=1"], cwd=tmp_path,
            env=env_with_paths(LAYERS))
    assert r.returncode == 2, r.stderr
    assert f'{net}:3:1: error: layer "bad_layer" (Python)' in r.stderr
    assert what in r.stderr


@needs_fcntool
def test_fcntool_starts_python_only_for_a_python_layer(tmp_path):
    """A sitecustomize.py on PYTHONPATH writes a marker when an interpreter starts: a net with
    no Python layer leaves none; one with a Python layer does (the check can fail)."""
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "python-started"
    (site / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    net = tmp_path / "plain.prototxt"
    net.write_text('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 4 } } }\n'
                   'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n')
    r = run([FCNTOOL, "time", f"--model={net}", "--iterations=1"], cwd=tmp_path,
            env=env_with_paths(site, LAYERS))
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    r = run([FCNTOOL, "time", f"--model={euclidean_net(tmp_path)}", "--iterations=1"],
            cwd=tmp_path, env=env_with_paths(site, LAYERS))
    assert r.returncode == 0, r.stderr
    assert marker.exists()


def test_python_session_errors_are_exceptions(tmp_path):
    net = fcn.Net(str(raising_net(tmp_path)), fcn.TEST)
    with pytest.raises(RuntimeError) as info:
        net.forward()
    text = str(info.value)
    assert f'raising.py", line {raise_line()}, in forward' in text
    assert "ValueError: boom from the user's forward" in text
    assert 'raise.prototxt:3:1: error: layer "bad_layer" (Python)' in text
    with pytest.raises(fcn.ConfigError, match=r'raise.prototxt:3:1: .*cannot find the Python module'):
        fcn.Net(str(raising_net(tmp_path, "no_such_module", "X")), fcn.TEST)
    with pytest.raises(RuntimeError, match=r"(?s)raise.prototxt:3:1: .*KeyError: 'missing key"):
        fcn.Net(str(raising_net(tmp_path, "raising", "RaiseInSetup")), fcn.TEST)
    # the interpreter is fine afterwards
    assert fcn.Net(str(euclidean_net(tmp_path)), fcn.TEST) is not None


CAFFE_NET = """
layer { name: "const" type: "Python" top: "c"
  python_param { module: "caffe_user" layer: "Constant" param_str: "2.5" } }
"""


@needs_fcntool
def test_layer_module_importing_caffe_runs_under_the_compat_path(tmp_path):
    net = tmp_path / "caffe.prototxt"
    net.write_text(CAFFE_NET)
    # fcntool: the compat path on PYTHONPATH
    r = run([FCNTOOL, "time", f"--model={net}", "--iterations=1"], cwd=tmp_path,
            env=env_with_paths(COMPAT_DIR, LAYERS))
    assert r.returncode == 0, r.stderr
    # a pycaffe script: import caffe, build the net, read the layer's top
    script = textwrap.dedent(f"""
        import caffe
        net = caffe.Net({str(net)!r}, caffe.TEST)
        out = net.forward()
        print(float(out["c"].sum()), out["c"].shape)
    """)
    r = run([sys.executable, "-c", script], cwd=tmp_path,
            env=env_with_paths(COMPAT_DIR, PYTHON_DIR, LAYERS))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(6 * 102.5)
    # without the compat path, `import caffe` fails: a clear exit-2 error naming the module
    r = run([FCNTOOL, "time", f"--model={net}", "--iterations=1"], cwd=tmp_path,
            env=env_with_paths(LAYERS))
    assert r.returncode == 2, r.stderr
    assert "No module named 'caffe'" in r.stderr
