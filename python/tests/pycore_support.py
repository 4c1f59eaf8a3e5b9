# SPDX-License-Identifier: BSD-2-Clause
"""Shared helpers of the Net/Solver/compat tests: paths of the build tree, fcntool, and the
tiny synthetic LMDB that the project's own data scripts make."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("FCN_BUILD_DIR", REPO / "build")).resolve()
PYTHON_DIR = BUILD / "python"
COMPAT_DIR = PYTHON_DIR / "compat"
FCNTOOL = Path(os.environ.get("FCNTOOL", BUILD / "src" / "fcntool")).resolve()
FORWARD_DUMP = Path(os.environ.get("FCN_FORWARD_DUMP",
                                   BUILD / "tests" / "fcn_forward_dump")).resolve()

if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


def env_with_paths(*paths: Path) -> dict:
    """The environment with PYTHONPATH set to `paths` only (a subprocess's imports)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(cmd, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    """Runs a command; returns it with text stdout/stderr (the caller checks the code)."""
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def make_synthetic_lmdb(root: Path, count: int = 10, size: int = 32) -> dict:
    """The project's procedural scenes (data_scripts/make_synthetic.py, 6 classes) as the
    train and val LMDBs of convert_camvid.py, as scripts/demo.sh makes them."""
    scripts = REPO / "data_scripts"
    py = sys.executable
    r = run([py, scripts / "make_synthetic.py", "--out", root / "scenes", "--count", count,
             "--size", size, "--seed", 1, "--force"])
    assert r.returncode == 0, r.stderr
    dbs = {}
    for split in ("train", "val"):
        db = root / f"db-{split}"
        r = run([py, scripts / "convert_camvid.py", "--root", root / "scenes", "--split", split,
                 "--out", db, "--force", "--dataset", "synthetic", "--classes", 6])
        assert r.returncode == 0, r.stderr
        dbs[split] = db
    return dbs


def tiny_fcn(source: Path, phase_test: bool = False) -> str:
    """A tiny FCN on the LMDB `source`: conv-relu-pool-conv-score, a stride-2 Deconvolution
    back to the input size, Crop, SoftmaxWithLoss (6 classes)."""
    return f"""
name: "tiny-fcn"
layer {{ name: "data" type: "Data" top: "data" top: "label"
  transform_param {{ scale: 0.02 mean_value: 110 mean_value: 110 mean_value: 110 }}
  data_param {{ source: "{source}" batch_size: 1 backend: LMDB {"" if phase_test else "shuffle: true seed: 7"} }} }}
layer {{ name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param {{ num_output: 8 kernel_size: 3 pad: 1
    weight_filler {{ type: "msra" }} bias_filler {{ type: "constant" }} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }}
layer {{ name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}
layer {{ name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
  convolution_param {{ num_output: 16 kernel_size: 3 pad: 1
    weight_filler {{ type: "msra" }} bias_filler {{ type: "constant" }} }} }}
layer {{ name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }}
layer {{ name: "score_fr" type: "Convolution" bottom: "conv2" top: "score_fr"
  convolution_param {{ num_output: 6 kernel_size: 1
    weight_filler {{ type: "xavier" }} bias_filler {{ type: "constant" }} }} }}
layer {{ name: "upscore" type: "Deconvolution" bottom: "score_fr" top: "upscore"
  param {{ lr_mult: 0 }}
  convolution_param {{ num_output: 6 group: 6 kernel_size: 4 stride: 2 bias_term: false
    weight_filler {{ type: "bilinear" }} }} }}
layer {{ name: "score" type: "Crop" bottom: "upscore" bottom: "data" top: "score"
  crop_param {{ axis: 2 offset: 1 }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss"
  loss_param {{ normalize: false }} }}
"""


def tiny_solver(net: Path, prefix: Path, max_iter: int, lr: float = 1e-4) -> str:
    return f"""
net: "{net}"
base_lr: {lr}
lr_policy: "fixed"
momentum: 0.9
weight_decay: 0.0005
display: 5
average_loss: 5
max_iter: {max_iter}
snapshot: 0
snapshot_prefix: "{prefix}"
random_seed: 3
"""
