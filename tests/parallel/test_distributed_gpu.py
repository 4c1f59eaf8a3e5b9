# SPDX-License-Identifier: BSD-2-Clause
"""Data-parallel training on GPUs over NCCL: 2 devices x batch 1 against 1 device with
iter_size 2 (docs/distributed.md). Skips with a message without a CUDA build with NCCL or
without two devices.

cuDNN and cuBLAS may sum in an order that depends on the algorithm they pick, so the two
runs agree within 1e-6 of each layer's largest weight instead of bit for bit.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_distributed as td  # noqa: E402
from test_distributed import database, fcntool, mpirun  # noqa: E402,F401


@pytest.fixture(scope="session")
def two_gpus(fcntool: Path) -> None:  # noqa: F811
    if b"ncclAllReduce" not in fcntool.read_bytes():
        pytest.skip(f"{fcntool} was built without CUDA and NCCL: GPU ranks not tested")
    proc = subprocess.run([str(fcntool), "device_query", "--gpu=all"], capture_output=True,
                          text=True, timeout=120)
    count = len(re.findall(r"Device id:", proc.stdout + proc.stderr))
    if proc.returncode != 0 or count < 2:
        pytest.skip(f"two CUDA devices needed, found {count}: GPU ranks not tested")


def weights(path: Path) -> dict[str, list[np.ndarray]]:
    net = td.fcn_proto.load().NetParameter()
    net.ParseFromString(path.read_bytes())
    return {layer.name: [np.array(b.data, np.float32) for b in layer.blobs]
            for layer in net.layer if layer.blobs}


def test_two_gpus_equal_one_gpu_with_iter_size_2(fcntool, mpirun, database, two_gpus,  # noqa: F811
                                                 tmp_path):
    single = td.setup_run(tmp_path / "single", database, iter_size=2)
    ranks = td.setup_run(tmp_path / "ranks", database, iter_size=1)
    td.run_single(fcntool, single, args="--gpu=0")
    log = td.run_ranks(mpirun, fcntool, ranks, args="--gpu=0,1")
    assert "over NCCL" in log
    a = weights(single / "run_iter_10.caffemodel")
    b = weights(ranks / "run_iter_10.caffemodel")
    assert a.keys() == b.keys()
    for name in a:
        for x, y in zip(a[name], b[name]):
            scale = max(float(np.abs(x).max()), 1e-30)
            assert float(np.abs(x - y).max()) <= 1e-6 * scale, name
