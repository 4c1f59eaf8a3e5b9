# SPDX-License-Identifier: BSD-2-Clause
"""fcn.SGDSolver on a tiny FCN over the project's synthetic LMDB: training lowers the loss,
its log lines are fcntool train's, snapshots restore, and a scoring loop over net.blobs gives
fcntool score's confusion matrix."""
from __future__ import annotations

import json
import re
import sys
import textwrap

import numpy as np
import pytest

from pycore_support import FCNTOOL, PYTHON_DIR, env_with_paths, make_synthetic_lmdb, run, \
    tiny_fcn, tiny_solver

import fcn  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    dbs = make_synthetic_lmdb(root, count=10, size=32)
    train = root / "train.prototxt"
    train.write_text(tiny_fcn(dbs["train"]))
    val = root / "val.prototxt"
    val.write_text(tiny_fcn(dbs["val"], phase_test=True))
    return {"root": root, "train": train, "val": val, "dbs": dbs}


def solver_file(tmp_path, data, max_iter, lr=1e-4):
    path = tmp_path / "solver.prototxt"
    path.write_text(tiny_solver(data["train"], tmp_path / "snap", max_iter, lr))
    return path


def test_step_trains_until_the_loss_falls(tmp_path, data):
    solver = fcn.SGDSolver(str(solver_file(tmp_path, data, 200)))
    assert solver.iter == 0
    assert solver.test_nets == []
    net = solver.net
    assert "loss" in net.outputs and net.blobs["data"].shape == (1, 3, 32, 32)
    losses = []
    for _ in range(60):
        solver.step(1)
        losses.append(float(net.blobs["loss"].data))
    assert solver.iter == 60
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < 0.8 * first, (first, last)
    # the net seen by Python is the solver's: its weights change with each step
    w = net.params["conv1"][0].data.copy()
    solver.step(2)
    assert not np.array_equal(w, net.params["conv1"][0].data)


def test_gradients_stay_readable_after_step(tmp_path, data):
    """As in pycaffe, an intermediate blob's gradient is still there after step() (fcntool's
    train net frees each one once consumed), and a view taken earlier still sees that memory."""
    solver = fcn.SGDSolver(str(solver_file(tmp_path, data, 10)))
    net = solver.net
    solver.step(1)
    view = net.blobs["conv2"].diff
    assert np.abs(view).sum() > 0, "conv2's gradient was freed after backward"
    before = view.copy()
    solver.step(1)
    after = net.blobs["conv2"].diff
    assert np.shares_memory(view, after)
    assert not np.array_equal(before, after), "a new step writes a new gradient"


def test_log_lines_equal_fcntool_train(tmp_path, data):
    solver = solver_file(tmp_path, data, 10)
    tool = run([FCNTOOL, "train", f"--solver={solver}"], cwd=tmp_path)
    assert tool.returncode == 0, tool.stderr
    script = textwrap.dedent(f"""
        import fcn
        fcn.SGDSolver({str(solver)!r}).solve()
    """)
    py = run([sys.executable, "-c", script], cwd=tmp_path, env=env_with_paths(PYTHON_DIR))
    assert py.returncode == 0, py.stderr

    def lines(log):
        # the messages of glog's lines (without time, thread id and source file)
        out = [re.sub(r"^[IWEF]\d+ [\d:.]+ +\d+ [^\]]+\] ", "", s) for s in log.splitlines()]
        keep = re.compile(r"^(Iteration \d+|    Train net output|Snapshotting|Solving"
                          r"|Learning Rate|Optimization Done|Starting Optimization|Use CPU)")
        # the speed figures of the display lines differ between runs
        speed = re.compile(r" \([^)]*iter/s[^)]*\)| img/s=\S+ eta=\S+")
        return [speed.sub("", s) for s in out if keep.match(s)]

    tool_lines, py_lines = lines(tool.stderr), lines(py.stderr)
    assert any(s.startswith("Iteration 5, loss = ") for s in tool_lines), tool.stderr
    assert len(tool_lines) >= 10
    assert py_lines == tool_lines


def test_snapshot_and_restore(tmp_path, data):
    solver = fcn.SGDSolver(str(solver_file(tmp_path, data, 100)))
    solver.step(3)
    solver.snapshot()
    state = tmp_path / "snap_iter_3.solverstate"
    assert state.is_file() and (tmp_path / "snap_iter_3.caffemodel").is_file()
    solver.step(2)
    expected = solver.net.params["conv2"][0].data.copy()
    del solver  # it holds the snapshot prefix's lock for its life, as fcntool train
    again = fcn.get_solver(str(tmp_path / "solver.prototxt"))
    again.restore(str(state))
    assert again.iter == 3
    again.step(2)
    np.testing.assert_array_equal(again.net.params["conv2"][0].data, expected)


def fast_hist(a, b, n):
    """The FCN reference's score.py histogram (label a, prediction b)."""
    k = (a >= 0) & (a < n)
    return np.bincount(n * a[k].astype(int) + b[k], minlength=n ** 2).reshape(n, n)


def test_scoring_loop_equals_fcntool_score(tmp_path, data):
    solver = fcn.SGDSolver(str(solver_file(tmp_path, data, 100, lr=1e-4)))
    solver.step(20)
    weights = tmp_path / "w.caffemodel"
    solver.net.save(str(weights))
    val_count = 2  # make_synthetic's 10 scenes with --val-fraction 0.2

    net = fcn.Net(str(data["val"]), fcn.TEST, weights=str(weights))
    hist = np.zeros((6, 6), np.int64)
    for _ in range(val_count):
        net.forward()
        hist += fast_hist(net.blobs["label"].data[0, 0].flatten().astype(int),
                          net.blobs["score"].data[0].argmax(0).flatten(), 6)
    assert hist.sum() == val_count * 32 * 32

    out_dir = tmp_path / "score"
    r = run([FCNTOOL, "score", f"--model={data['val']}", f"--weights={weights}",
             f"--iterations={val_count}", f"--output_dir={out_dir}", "--classes=6"])
    assert r.returncode == 0, r.stdout + r.stderr
    head = json.loads((out_dir / "metrics.json").read_text())["heads"][0]
    np.testing.assert_array_equal(np.array(head["confusion"]), hist)
    # score.py's figures from the loop's histogram (nan for a class absent from both)
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = np.diag(hist).astype(float)
        iu = diag / (hist.sum(1) + hist.sum(0) - diag)
        freq = hist.sum(1) / hist.sum()
        figures = {"pixel_acc": diag.sum() / hist.sum(),
                   "mean_acc": np.nanmean(diag / hist.sum(1)),
                   "mean_iu": np.nanmean(iu),
                   "fwavacc": (freq[freq > 0] * iu[freq > 0]).sum()}
    for name, value in figures.items():
        assert head[name] == pytest.approx(value, rel=1e-12), name


def test_step_releases_the_gil(tmp_path, data):
    """A Python thread keeps running while step() computes: it records times in the middle
    of the call (with the GIL held throughout, it could run only before and after)."""
    import threading
    import time

    solver = fcn.SGDSolver(str(solver_file(tmp_path, data, 10000000)))
    solver.step(1)
    # Enough steps for about 0.5 s on this machine, whatever its speed: a fixed count took
    # only 25 ms on a faster CI machine (test_step_releases_the_gil_on_a_fast_machine's cause).
    probe = time.perf_counter()
    solver.step(5)
    per_step = max((time.perf_counter() - probe) / 5, 1e-5)
    steps = min(int(0.5 / per_step) + 1, 50000)
    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    # The probe can misjudge a loaded machine (5 slow steps, then fast ones): a call that
    # ended too soon to tell is repeated with four times the steps.
    for _ in range(6):
        ticks.clear()
        stop.clear()
        thread = threading.Thread(target=spin)
        thread.start()
        try:
            time.sleep(0.01)
            t0 = time.perf_counter()
            solver.step(steps)
            t1 = time.perf_counter()
        finally:
            stop.set()
            thread.join()
        if t1 - t0 > 0.2:
            break
        steps = min(steps * 4, 200000)
    middle = [t for t in ticks if t0 + 0.25 * (t1 - t0) < t < t0 + 0.75 * (t1 - t0)]
    assert t1 - t0 > 0.05, "too short a step to tell"
    assert len(middle) >= 5, (len(middle), t1 - t0)
