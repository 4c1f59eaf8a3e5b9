# SPDX-License-Identifier: BSD-2-Clause
"""fcn.log: ``parse`` and ``plot`` on a log that fcntool train writes during the test (a tiny
net on DummyData, written with NetSpec), and on Caffe-style lines."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fcn
from fcn import log as fcnlog
from fcn.net_spec import NetSpec, layers as L

ITERS, DISPLAY, TEST_INTERVAL, BASE_LR, GAMMA, STEP = 30, 5, 10, 0.1, 0.5, 10


def tiny_net(name: str) -> str:
    """3 random channels, label 1 everywhere: a 1x1 convolution learns it in a few steps."""
    n = NetSpec()
    n.data, n.label = L.DummyData(
        ntop=2, shape=[dict(dim=[1, 3, 8, 8]), dict(dim=[1, 1, 8, 8])],
        data_filler=[dict(type="gaussian", std=1), dict(type="constant", value=1)])
    n.score = L.Convolution(n.data, num_output=3, kernel_size=1,
                            weight_filler=dict(type="gaussian", std=0.1))
    n.loss = L.SoftmaxWithLoss(n.score, n.label)
    proto = n.to_proto()
    proto.name = name
    return str(proto)


@pytest.fixture(scope="module")
def train_log(tmp_path_factory: pytest.TempPathFactory, fcntool: Path) -> Path:
    """The log of `fcntool train` (stderr, glog) over ITERS iterations with tests."""
    folder = tmp_path_factory.mktemp("train")
    (folder / "train.prototxt").write_text(tiny_net("tiny-train"))
    (folder / "val.prototxt").write_text(tiny_net("tiny-val"))
    (folder / "solver.prototxt").write_text(
        'train_net: "train.prototxt"\ntest_net: "val.prototxt"\ntest_iter: 2\n'
        f"test_interval: {TEST_INTERVAL}\nbase_lr: {BASE_LR}\nlr_policy: \"step\"\n"
        f"gamma: {GAMMA}\nstepsize: {STEP}\ndisplay: {DISPLAY}\nmax_iter: {ITERS}\n"
        f'momentum: 0.9\nsnapshot: 0\nsnapshot_prefix: "{folder}/snap"\nrandom_seed: 1\n')
    log = folder / "train.log"
    with log.open("w") as out:
        run = subprocess.run([str(fcntool), "train", "--solver=solver.prototxt"], cwd=folder,
                             stdout=out, stderr=subprocess.STDOUT, timeout=300)
    assert run.returncode == 0, log.read_text()[-3000:]
    return log


def run_module(*args: str | Path) -> subprocess.CompletedProcess:
    """`python3 -m fcn.log ...` with the package this test imported on its path."""
    roots = {str(Path(p).resolve().parent) for p in fcn.__path__}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(sorted(roots) + [p for p in sys.path if p])
    return subprocess.run([sys.executable, "-m", "fcn.log", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


def logged(log: Path, pattern: str) -> list[tuple[int, float]]:
    """(iteration, value) pairs read straight from the log: the value of lines matching
    `pattern` (after " = "), with the iteration of the last "Iteration N" line before them."""
    pairs, iteration = [], None
    for line in log.read_text().splitlines():
        head = re.search(r"\] Iteration (\d+)[ ,]", line)
        if head:
            iteration = int(head[1])
        if pattern in line:
            pairs.append((iteration, float(line.split(pattern)[1].split()[0].rstrip(","))))
    return pairs


def test_parse_gives_the_iterations_losses_and_rates_of_the_log(train_log: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "log.csv"
    run = run_module("parse", train_log, out)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["Phase", "NumIters", "Seconds", "LearningRate", "loss",
                             "smoothed_loss", "pixel_acc", "mean_acc", "mean_iu", "fwavacc"]
    train = [r for r in rows if r["Phase"] == "train"]
    test = [r for r in rows if r["Phase"] == "test"]

    # One row per display, and the final "Iteration 30, loss = ..." line.
    assert [int(r["NumIters"]) for r in train] == list(range(0, ITERS + 1, DISPLAY))
    # The step policy: lr = base_lr * gamma^(iter // stepsize), as logged at each display.
    for r in train[:-1]:
        assert float(r["LearningRate"]) == pytest.approx(
            BASE_LR * GAMMA ** (int(r["NumIters"]) // STEP), rel=1e-6)
    # The losses are the logged "Train net output" values, and they fall.
    outputs = logged(train_log, "Train net output #0: loss = ")
    assert [(int(r["NumIters"]), float(r["loss"])) for r in train[:-1]] == outputs
    assert float(train[-2]["loss"]) < float(train[0]["loss"]) / 10
    final = logged(train_log, f"Iteration {ITERS}, loss = ")
    assert float(train[-1]["smoothed_loss"]) == final[0][1]
    assert train[-1]["loss"] == ""

    # One test row per test_interval, with the test loss and the four metrics.
    assert [int(r["NumIters"]) for r in test] == list(range(0, ITERS + 1, TEST_INTERVAL))
    assert [(int(r["NumIters"]), float(r["loss"])) for r in test] == logged(
        train_log, "Test net output #0: loss = ")
    assert [float(r["mean_iu"]) for r in test] == [v for _, v in logged(train_log, "mean_iu = ")]
    for r in test:
        for metric in ("pixel_acc", "mean_acc", "mean_iu", "fwavacc"):
            assert 0 <= float(r[metric]) <= 1
    assert float(test[-1]["loss"]) < float(test[0]["loss"])
    assert float(test[-1]["pixel_acc"]) > float(test[0]["pixel_acc"])
    # The rate of a test is the one in effect at that iteration.
    assert [float(r["LearningRate"]) for r in test[:-1]] == pytest.approx(
        [BASE_LR * GAMMA ** (int(r["NumIters"]) // STEP) for r in test[:-1]])
    # Seconds since "Solving", in log order.
    seconds = [float(r["Seconds"]) for r in rows]
    assert seconds == sorted(seconds) and 0 <= seconds[0] < seconds[-1]


def test_parse_one_phase_writes_caffes_columns_to_stdout(train_log: Path) -> None:
    run = run_module("parse", train_log, "--phase", "train")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "NumIters,Seconds,LearningRate,loss,smoothed_loss"
    assert len(lines) == 1 + ITERS // DISPLAY + 1
    run = run_module("parse", train_log, "--phase", "test")
    assert run.stdout.splitlines()[0] == ("NumIters,Seconds,LearningRate,loss,pixel_acc,"
                                          "mean_acc,mean_iu,fwavacc")
    assert len(run.stdout.splitlines()) == 1 + ITERS // TEST_INTERVAL + 1


def test_plot_writes_a_png_of_the_requested_size(train_log: Path, tmp_path: Path) -> None:
    from PIL import Image
    import matplotlib.image

    out = tmp_path / "curves.png"
    run = run_module("plot", train_log, out, "--size", "800x600")
    assert run.returncode == 0, run.stderr
    assert "7 train rows, 4 test rows" in run.stdout
    assert out.stat().st_size > 10000  # three panels of curves, text and legends
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (800, 600)
        pixels = image.convert("L")
        # Not a blank canvas: curves and text make many distinct grey levels.
        assert len(pixels.getcolors(256) or []) > 20
    assert matplotlib.image.imread(str(out)).shape[:2] == (600, 800)


def test_bad_input_exits_2_with_a_message(train_log: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such.log"
    run = run_module("parse", missing)
    assert run.returncode == 2 and f"{missing}: cannot read" in run.stderr
    empty = tmp_path / "solver.log"
    empty.write_text("I20261205 08:00:00.000000  1 train_command.cpp:1] Starting Optimization\n")
    for args in (("parse", empty), ("plot", empty, tmp_path / "x.png")):
        run = run_module(*args)
        assert run.returncode == 2 and "no iterations found" in run.stderr, run.stderr
    assert not (tmp_path / "x.png").exists()
    run = run_module("plot", train_log, tmp_path / "missing-dir" / "x.png")
    assert run.returncode == 2 and "does not exist" in run.stderr
    run = run_module("plot", train_log, tmp_path / "x.png", "--size", "big")
    assert run.returncode == 2 and "WIDTHxHEIGHT" in run.stderr
    assert run_module().returncode == 2  # no command: argparse's usage error


CAFFE_STYLE = """\
I1231 23:59:58.000000  7 solver.cpp:280] Solving FCN
I1231 23:59:58.500000  7 solver.cpp:330] Iteration 0, Testing net (#0)
I1231 23:59:59.000000  7 solver.cpp:397]     Test net output #0: loss = 2.5 (* 1 = 2.5 loss)
I1231 23:59:59.000000  7 solver.cpp:397]     Test net output #1: acc = 0.25
I1231 23:59:59.000000  7 solver.cpp:397]     Test net output #2: acc = 0.75
I1231 23:59:59.100000  7 solver.cpp:330] Iteration 0, Testing net (#1)
I1231 23:59:59.200000  7 solver.cpp:397]     Test net output #0: loss = 3 (* 1 = 3 loss)
I1231 23:59:59.300000  7 solver.cpp:218] Iteration 0, loss = 2.75
I1231 23:59:59.300000  7 solver.cpp:234]     Train net output #0: loss = 2.75 (* 1 = 2.75 loss)
I1231 23:59:59.400000  7 sgd_solver.cpp:106] Iteration 0, lr = 1e-10
I0101 00:00:01.000000  7 solver.cpp:218] Iteration 20 (10 iter/s, 2s/20 iters), loss = 1.5e-01
I0101 00:00:01.000000  7 solver.cpp:234]     Train net output #0: loss = 0.125 (* 1 = 0.125 loss)
I0101 00:00:01.000000  7 sgd_solver.cpp:106] Iteration 20, lr = 1e-10
I0101 00:00:02.000000  7 solver.cpp:330] Iteration 40, Testing net (#0)
I0101 00:00:02.000000  7 solver.cpp:397]     Test net output #0: loss = 0.5 (* 1 = 0.5 loss)
I0101 00:00:02.000000  7 solver.cpp:415]     Test net metrics #0: pixel_acc = 0.9, mean_acc = 0.8, mean_iu = 0.7, fwavacc = 0.85 (score_sem)
I0101 00:00:02.000000  7 solver.cpp:415]     Test net metrics #1: pixel_acc = 0.5, mean_acc = -nan, mean_iu = 0.25, fwavacc = 0.4 (score_geo)
"""


def test_caffe_style_lines_two_test_nets_and_heads() -> None:
    log = fcnlog.parse_lines(CAFFE_STYLE.splitlines(), year=2015)
    buffer = io.StringIO()
    fcnlog.write_csv(log, buffer)
    assert buffer.getvalue().splitlines() == [
        "Phase,NumIters,Seconds,LearningRate,loss,smoothed_loss,acc,acc#2,pixel_acc,mean_acc,"
        "mean_iu,fwavacc,pixel_acc:score_geo,mean_acc:score_geo,mean_iu:score_geo,"
        "fwavacc:score_geo",
        "test,0,0.500000,1e-10,2.5,,0.25,0.75,,,,,,,,",
        "test#1,0,1.100000,1e-10,3.0,,,,,,,,,,,",
        "train,0,1.300000,1e-10,2.75,2.75,,,,,,,,,,",
        # Over New Year: the yearless glog dates still give increasing seconds.
        "train,20,3.000000,1e-10,0.125,0.15,,,,,,,,,,",
        "test,40,4.000000,1e-10,0.5,,,,0.9,0.8,0.7,0.85,0.5,nan,0.25,0.4",
    ]
    assert log.loss_outputs == {"loss"}


def test_damaged_lines_and_non_finite_values_do_not_stop_parse_or_plot(tmp_path: Path) -> None:
    lines = [
        "I20261205 08:00:00.000000  1 solver.cpp:612] Solving tiny",
        # month 13: no time for this row
        "I20261305 08:00:01.000000  1 solver.cpp:522] Iteration 0 (0 iter/s), loss = inf",
        "I20261205 08:00:02.000000  1 solver.cpp:538]     Train net output #0: loss = inf (* 1 = "
        "inf loss)",
        "I20261205 08:00:02.000000  1 sgd_update.cpp:19] Iteration 0, lr = 0",
        "garbage \x00\xff Iteration x, loss = ",
        "I20261205 08:00:03.000000  1 solver.cpp:522] Iteration 10 (1 iter/s), loss = -nan",
        "I20261205 08:00:03.000000  1 solver.cpp:538]     Train net output #0: loss = nan",
        "I20261205 08:00:04.000000  1 solver.cpp:645] Iteration 10, Testing net (#0)",
        "I20261205 08:00:04.000000  1 solver.cpp:727]     Test net metrics #0: pixel_acc = nan, "
        "mean_acc = nan, mean_iu = nan, fwavacc = nan (score)",
    ]
    log = fcnlog.parse_lines(lines)
    assert [(r.iteration, r.seconds, r.values["loss"]) for r in log.train][0] == (0, None,
                                                                                  float("inf"))
    assert log.train[1].seconds == 3.0 and all(map(math.isnan, log.train[1].values.values()))
    assert log.train[1].lr == 0.0 and math.isnan(log.test[0].values["mean_iu"])
    out = tmp_path / "curves.png"
    fcnlog.plot_log(log, out, (640, 480))
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (640, 480)
