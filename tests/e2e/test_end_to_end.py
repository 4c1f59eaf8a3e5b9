# SPDX-License-Identifier: BSD-2-Clause
# End to end per dataset: fixture -> converter -> LMDB -> surgery -> train -> score -> segment.
"""The paper's models end to end on tiny fixtures of VOC/SBD, NYUDv2 and SIFT Flow.

For each dataset a few images in the dataset's real on-disk form (the fixture builders of
data_scripts/tests) go through the dataset's converter into the LMDBs that the model's own
``train.prototxt`` and ``val.prototxt`` name (``../../db/<name>``, resolved beside a
byte-identical copy of the prototxt in a temporary tree). A randomly initialised VGG-16
classifier (bench/random_vgg16.py) goes through ``fcntool surgery`` into the FCN's initial
weights, ``fcntool train`` runs the model's reference solver for 2 iterations at full VGG-16
width, then ``fcntool score`` scores the val database and
``fcntool segment`` segments a fixture image with the deploy net.

Surgery leaves the score layers at zero, as the FCN reference does, so the first iteration's
loss is exactly ln(C) per labelled pixel of the first training image: the log must show one
of the fixture's values, which checks that image and label reached the loss together.

Run: FCNTOOL=build/src/fcntool /usr/bin/python3 -m pytest tests/e2e (ctest: end_to_end_pytest).
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "data_scripts", REPO / "data_scripts" / "tests", REPO / "bench"):
    sys.path.insert(0, str(_path))

import fcn_proto  # noqa: E402
import random_vgg16  # noqa: E402
import test_convert_nyud as nyud_fixture  # noqa: E402
import test_convert_siftflow as siftflow_fixture  # noqa: E402
import test_convert_voc as voc_fixture  # noqa: E402

# A training step of a full-width VGG-16 at ~220x220 (tiny image + pad 100) is a second or two.
TOOL_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def fcntool() -> Path:
    """The fcntool binary: $FCNTOOL (ctest sets it), else build/src/fcntool."""
    path = Path(os.environ.get("FCNTOOL", REPO / "build" / "src" / "fcntool")).resolve()
    if not path.is_file():
        pytest.fail(f"{path}: fcntool not found; build it and set FCNTOOL to its path")
    return path


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A random VGG-16 classifier (553 MB), written once per session."""
    path = tmp_path_factory.mktemp("classifier") / "vgg16-random.caffemodel"
    with open(path, "wb") as out:
        assert random_vgg16.write_classifier(out, random_vgg16.vgg16_layers(), seed=1) == \
            138_357_544
    yield path
    path.unlink()


@pytest.fixture(autouse=True)
def remove_weights(tmp_path: Path) -> Iterator[None]:
    """Deletes each test's folder afterwards: its weights and snapshots take 1.6 GB or more,
    and pytest keeps the folders of its last three runs."""
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


def run(cmd: Sequence[object], cwd: Path) -> str:
    """Runs a command; asserts exit code 0 and returns stdout + stderr."""
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                            timeout=TOOL_TIMEOUT_S, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}: exit {result.returncode}\n" \
        f"{output[-6000:]}"
    return output


def convert(script: str, cwd: Path, *args: object) -> None:
    run([sys.executable, REPO / "data_scripts" / script, *args], cwd)


@dataclass
class Workspace:
    """A temporary tree: models/<model>/ (copies of the committed nets), db/, snapshot/."""

    root: Path
    model: str

    @property
    def net_dir(self) -> Path:
        return self.root / "models" / self.model

    def db(self, name: str) -> Path:
        return self.root / "db" / name


def stage(tmp_path: Path, model: str, dbs: Sequence[str]) -> Workspace:
    """Copies the model's nets unchanged and checks that their sources are the given dbs."""
    ws = Workspace(tmp_path / "work", model)
    ws.net_dir.mkdir(parents=True)
    (ws.root / "db").mkdir()
    (ws.root / "snapshot").mkdir()
    for net in ("train", "val", "deploy"):
        shutil.copyfile(REPO / "models" / model / f"{net}.prototxt",
                        ws.net_dir / f"{net}.prototxt")
    sources = [re.search(r'source: "([^"]+)"', (ws.net_dir / f"{net}.prototxt").read_text())
               .group(1) for net in ("train", "val")]
    assert sources == [f"../../db/{name}" for name in dbs]
    return ws


def write_solver(ws: Workspace) -> Path:
    """The model's reference solver, cut to 2 iterations with a final snapshot. The val net
    is left to `fcntool score`: loading the weights into a test net too would cost seconds."""
    pb = fcn_proto.load()
    from google.protobuf import text_format

    solver = text_format.Parse((REPO / "solvers" / f"{ws.model}.prototxt").read_text(),
                               pb.SolverParameter())
    solver.train_net = str(ws.net_dir / "train.prototxt")
    for field in ("test_net", "test_iter", "test_interval", "snapshot"):
        solver.ClearField(field)
    solver.max_iter = 2
    solver.display = 1
    solver.average_loss = 1
    solver.snapshot_prefix = str(ws.root / "snapshot" / ws.model)
    path = ws.root / "solver.prototxt"
    path.write_text(text_format.MessageToString(solver))
    return path


def surgery(fcntool: Path, ws: Workspace, classifier: Path, report: str,
            suffixes: Sequence[str] = ()) -> Path:
    """VGG-16 classifier -> the model's initial weights (score layers zero, bilinear ups);
    ``report`` is the expected count of copied, coerced, ... blobs."""
    out = ws.root / "init.caffemodel"
    weights = ",".join([str(classifier)] * max(1, len(suffixes)))
    cmd = [fcntool, "surgery", f"--model={ws.net_dir / 'val.prototxt'}", f"--weights={weights}",
           f"--output={out}"]
    if suffixes:
        cmd.append(f"--suffix={','.join(suffixes)}")
    log = run(cmd, ws.net_dir)  # where the val net's ../../db/<name> resolves
    assert f"{report} (filler); wrote {out}" in log, log[-3000:]
    return out


TRAIN_OUTPUT = re.compile(r"Train net output #(\d+): (\w+) = (\S+)")


def train(fcntool: Path, ws: Workspace, solver: Path, init: Path) -> list[dict[str, float]]:
    """Runs fcntool train; returns the train net outputs of each displayed iteration."""
    log = run([fcntool, "train", f"--solver={solver}", f"--weights={init}"], ws.root)
    displays: list[dict[str, float]] = []
    for line in log.splitlines():
        m = TRAIN_OUTPUT.search(line)
        if m:
            if m.group(1) == "0":
                displays.append({})
            displays[-1][m.group(2)] = float(m.group(3))
    assert len(displays) == 2, log[-4000:]
    for values in displays:
        assert all(math.isfinite(v) for v in values.values()), displays
    final = re.search(r"Iteration 2, loss = (\S+)\n", log)  # after the second update
    assert final and math.isfinite(float(final.group(1))), log[-4000:]
    assert "Optimization Done." in log
    assert (ws.root / "snapshot" / f"{ws.model}_iter_2.caffemodel").is_file()
    return displays


def first_loss_matches(loss: float, candidates: Sequence[float]) -> bool:
    return any(math.isclose(loss, c, rel_tol=1e-4) for c in candidates)


HEAD = re.compile(r"Head (\w+) \(label (\w+), (\d+) classes, ignore label 255, (\d+) pixels "
                  r"scored\)\n  pixel accuracy  ([0-9.]+)\n  mean accuracy   ([0-9.]+)\n"
                  r"  mean IU         ([0-9.]+)  \(over \d+ classes[^)]*\)\n"
                  r"  f\.w\. IU         ([0-9.]+)")


def score(fcntool: Path, ws: Workspace, heads: Sequence[tuple[str, str, int, int]],
          extra: Sequence[str] = ()) -> None:
    """fcntool score on the val net; each head (score, label, classes, labelled pixels) must
    print its four metrics in [0, 1] and its pixel count, and write its confusion matrix."""
    weights = ws.root / "snapshot" / f"{ws.model}_iter_2.caffemodel"
    out_dir = ws.root / "scores"
    log = run([fcntool, "score", f"--model={ws.net_dir / 'val.prototxt'}", f"--weights={weights}",
               f"--output_dir={out_dir}", *extra], ws.root)
    found = {m.group(1): m for m in HEAD.finditer(log)}
    assert sorted(found) == sorted(h[0] for h in heads), log[-3000:]
    for score_blob, label_blob, classes, pixels in heads:
        m = found[score_blob]
        assert (m.group(2), int(m.group(3)), int(m.group(4))) == (label_blob, classes, pixels)
        assert all(0.0 <= float(m.group(i)) <= 1.0 for i in range(5, 9)), m.group(0)
        csv = (out_dir / f"confusion_{score_blob}.csv").read_text().strip().splitlines()
        assert len(csv) >= classes
        assert Image.open(out_dir / f"confusion_{score_blob}.png").size[0] > 0
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert math.isfinite(metrics["loss"])


def segment(fcntool: Path, ws: Workspace, image: Path, classes: int,
            extra: Sequence[str] = (), more: Sequence[Path] = ()) -> None:
    """fcntool segment on one image (and `more` files for the net's other inputs): label and
    overlay PNGs of the image's size."""
    weights = ws.root / "snapshot" / f"{ws.model}_iter_2.caffemodel"
    out_dir = ws.root / "segment"
    sample = ",".join(str(p) for p in [image, *more])
    run([fcntool, "segment", f"--model={ws.net_dir / 'deploy.prototxt'}", f"--weights={weights}",
         f"--output_dir={out_dir}", *extra, sample], ws.root)
    size = Image.open(image).size
    label = Image.open(out_dir / f"{image.stem}_label.png")
    assert label.mode == "P" and label.size == size
    assert int(np.asarray(label).max()) < classes
    overlay = Image.open(out_dir / f"{image.stem}_overlay.png")
    assert overlay.size == size and overlay.mode == "RGB"


def test_voc_fcn8s(tmp_path: Path, fcntool: Path, classifier: Path) -> None:
    ws = stage(tmp_path, "voc-fcn8s", ["sbd-train", "voc-seg11valid"])
    sbd_labels = voc_fixture.make_sbd(tmp_path / "benchmark_RELEASE" / "dataset")
    voc_labels = voc_fixture.make_voc(tmp_path / "VOC2011")
    valid = [voc_fixture.IDS[2], voc_fixture.IDS[0]]
    (tmp_path / "seg11valid.txt").write_text("\n".join(valid) + "\n")
    convert("convert_voc.py", tmp_path, "--root", tmp_path / "benchmark_RELEASE" / "dataset",
            "--split", "sbd-train", "--out", ws.db("sbd-train"))
    convert("convert_voc.py", tmp_path, "--root", tmp_path / "VOC2011", "--split", "seg11valid",
            "--list", tmp_path / "seg11valid.txt", "--out", ws.db("voc-seg11valid"))

    # fc6 and fc7 coerced to convolutions, fc8 dropped, 3 upscores bilinear, 3 score layers zero.
    init = surgery(fcntool, ws, classifier,
                   "28 copied, 2 coerced, 2 dropped, 0 expanded, 3 interpolated, 3 kept")
    displays = train(fcntool, ws, write_solver(ws), init)
    expected = [int((label != 255).sum()) * math.log(21) for label in sbd_labels.values()]
    assert first_loss_matches(displays[0]["loss"], expected), (displays, expected)

    pixels = sum(int((voc_labels[i] != 255).sum()) for i in valid)
    score(fcntool, ws, [("score", "label", 21, pixels)])
    segment(fcntool, ws, tmp_path / "VOC2011" / "JPEGImages" / f"{voc_fixture.IDS[2]}.jpg", 21)


def test_nyud_fcn32s_color_hha(tmp_path: Path, fcntool: Path, classifier: Path) -> None:
    ws = stage(tmp_path, "nyud-fcn32s-color-hha", ["nyud-trainval", "nyud-test"])
    arrays = nyud_fixture.make_nyud(tmp_path / "nyud")
    (tmp_path / "nyud" / "test.txt").write_text(nyud_fixture.IDS[1] + "\n")
    for split in ("trainval", "test"):
        convert("convert_nyud.py", tmp_path, "--root", tmp_path / "nyud", "--split", split,
                "--out", ws.db(f"nyud-{split}"))

    # One classifier feeds both streams: conv1_1 -> conv1_1color and conv1_1hha, and so on.
    init = surgery(fcntool, ws, classifier,
                   "56 copied, 4 coerced, 4 dropped, 0 expanded, 1 interpolated, 2 kept",
                   suffixes=["color", "hha"])
    displays = train(fcntool, ws, write_solver(ws), init)
    expected = [int((a["raw"] != 0).sum()) * math.log(40) for a in arrays.values()]
    assert first_loss_matches(displays[0]["loss"], expected), (displays, expected)

    pixels = int((arrays[nyud_fixture.IDS[1]]["raw"] != 0).sum())
    score(fcntool, ws, [("score", "label", 40, pixels)])
    # Both streams: colour as BGR, HHA in the file's order (as the reference loads it).
    data = tmp_path / "nyud" / "data"
    segment(fcntool, ws, data / "images" / f"img_{nyud_fixture.IDS[1]}.png", 40,
            ["--input_blobs=color,hha", "--rgb_inputs=hha",
             "--mean_value=116.190,97.203,92.318:132.431,94.076,118.477"],
            more=[data / "hha" / f"img_{nyud_fixture.IDS[1]}.png"])


@pytest.fixture
def wide_siftflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SIFT Flow fixture images of 16x24 rather than square, so that a transposed output
    would show."""
    monkeypatch.setattr(siftflow_fixture, "W", 24)
    yield


def test_siftflow_fcn8s(tmp_path: Path, fcntool: Path, classifier: Path,
                        wide_siftflow: None) -> None:
    ws = stage(tmp_path, "siftflow-fcn8s", ["siftflow-trainval", "siftflow-test"])
    labels = siftflow_fixture.make_siftflow(tmp_path / "siftflow")
    for split in ("trainval", "test"):
        convert("convert_siftflow.py", tmp_path, "--root", tmp_path / "siftflow", "--split",
                split, "--out", ws.db(f"siftflow-{split}"))

    # One trunk, two heads (sem, geo) of 3 score layers and 3 upscores each.
    init = surgery(fcntool, ws, classifier,
                   "28 copied, 2 coerced, 2 dropped, 0 expanded, 6 interpolated, 6 kept")
    displays = train(fcntool, ws, write_solver(ws), init)
    assert sorted(displays[0]) == ["loss", "loss_geo"], displays
    train_ids = siftflow_fixture.IDS[:2]
    expected = [(int((labels[i][0] != 0).sum()) * math.log(33),
                 int((labels[i][1] > 0).sum()) * math.log(3)) for i in train_ids]
    first = displays[0]
    assert any(math.isclose(first["loss"], sem, rel_tol=1e-4) and
               math.isclose(first["loss_geo"], geo, rel_tol=1e-4) for sem, geo in expected), \
        (displays, expected)

    test_id = siftflow_fixture.IDS[2]
    sem, geo = labels[test_id]
    score(fcntool, ws, [("score_sem", "sem", 33, int((sem != 0).sum())),
                        ("score_geo", "geo", 3, int((geo > 0).sum()))],
          ["--score_blobs=score_sem,score_geo", "--label_blobs=sem,geo", "--exclude_absent"])
    image = tmp_path / "siftflow" / "Images" / siftflow_fixture.SUB / f"{test_id}.jpg"
    assert Image.open(image).size == (24, 16)
    segment(fcntool, ws, image, 33, ["--score_blobs=score_sem"])


def test_random_classifier_encoding(tmp_path: Path) -> None:
    """The hand-written wire format of random_vgg16 parses back into the same values."""
    layers = [random_vgg16.ParamLayer("conv1_1", 3, 4, kernel=3),
              random_vgg16.ParamLayer("fc6", 4 * 2 * 2, 5)]
    path = tmp_path / "small.caffemodel"
    with open(path, "wb") as out:
        assert random_vgg16.write_classifier(out, layers, seed=3) == 4 * 27 + 4 + 5 * 16 + 5
    net = fcn_proto.load().NetParameter()
    net.ParseFromString(path.read_bytes())
    assert [(l.name, l.type) for l in net.layer] == [("conv1_1", "Convolution"),
                                                      ("fc6", "InnerProduct")]
    assert [list(b.shape.dim) for b in net.layer[0].blobs] == [[4, 3, 3, 3], [4]]
    assert [list(b.shape.dim) for b in net.layer[1].blobs] == [[5, 16], [5]]
    rng = np.random.default_rng(3)
    conv = rng.standard_normal(108, dtype=np.float32) * np.float32(math.sqrt(2 / 27))
    fc6 = rng.standard_normal(80, dtype=np.float32) * np.float32(math.sqrt(2 / 16))
    np.testing.assert_array_equal(np.array(net.layer[0].blobs[0].data, np.float32), conv)
    np.testing.assert_array_equal(np.array(net.layer[1].blobs[0].data, np.float32), fc6)
    assert list(net.layer[1].blobs[1].data) == [0.0] * 5
    assert net.layer[0].convolution_param.pad == [1]
