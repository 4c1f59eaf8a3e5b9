# SPDX-License-Identifier: BSD-2-Clause
# Tests of models/generate.py: the coordinate-map offsets, the nets' shape, and --check.
"""pytest for the model generator (run with /usr/bin/python3 -m pytest models/tests)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import pytest

GENERATOR = Path(__file__).resolve().parent.parent / "generate.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fcn_models_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fcn_models_generate"] = module
    spec.loader.exec_module(module)
    return module


gen = _load()


def _crops(name: str, phase: str = "val") -> dict[str, int]:
    model = next(m for m in gen.models() if m.name == name)
    n = gen.NetBuilder(model.name, phase, model.deploy_size)
    model.build(n)
    return {layer.name: layer.crop_param.offset[0] for layer in n.net.layer
            if layer.type == "Crop"}


def test_window_and_deconv_maps() -> None:
    # conv1_1 (k3, pad 100): x -> x + 99; a 2x2/2 pool: x -> x/2 - 1/4; k64/s32 deconv: 32x + 31.5
    assert gen.window_map(3, 1, 100) == gen.AxisMap(Fraction(1), Fraction(99))
    assert gen.window_map(2, 2, 0) == gen.AxisMap(Fraction(1, 2), Fraction(-1, 4))
    assert gen.deconv_map(64, 32, 0) == gen.AxisMap(Fraction(32), Fraction(63, 2))
    m = gen.AxisMap(Fraction(1, 8), Fraction(191, 16))
    assert m.after(m.inverse()) == gen.AxisMap()


@pytest.mark.parametrize("name, expected", [
    ("voc-fcn32s", {"score": 19}),
    ("voc-fcn16s", {"score_pool4c": 5, "score": 27}),
    ("voc-fcn8s", {"score_pool4c": 5, "score_pool3c": 9, "score": 31}),
    ("voc-fcn8s-atonce", {"score_pool4c": 5, "score_pool3c": 9, "score": 31}),
    ("voc-fcn-alexnet", {"score": 18}),
    ("nyud-fcn32s-color-hha", {"score": 19}),
    ("siftflow-fcn16s", {"score_pool4_semc": 5, "score_sem": 27, "score_pool4_geoc": 5,
                         "score_geo": 27}),
    ("camvid-fcn8s-narrow", {"score_pool4c": 5, "score_pool3c": 9, "score": 31}),
])
def test_derived_crop_offsets(name: str, expected: dict[str, int]) -> None:
    """The offsets of fcn-reference.md section 7.4, from the generator's own derivation."""
    assert _crops(name) == expected
    assert _crops(name, "deploy") == expected


def test_unalignable_crop_is_refused() -> None:
    n = gen.NetBuilder("x", "deploy", (64, 64))
    data = n.data("data", gen.DataSpec("db", ["data", "label"]))[0]
    coarse = n.pool("pool", data)
    with pytest.raises(gen.CropError, match="not a non-negative integer shift"):
        n.crop("bad", coarse, data)  # scale 1/2: no offset aligns them
    padded = n.conv("conv", data, 4, 3, pad=0)
    with pytest.raises(gen.CropError, match="not a non-negative integer shift"):
        n.crop("bad", padded, data)  # would need offset -1
    assert n.crop_offset(data, padded) == 1  # the other way round: a valid crop


def test_deploy_has_input_and_no_dropout_or_loss() -> None:
    model = next(m for m in gen.models() if m.name == "nyud-fcn32s-color-d")
    n = gen.NetBuilder(model.name, "deploy", model.deploy_size)
    model.build(n)
    first = n.net.layer[0]
    assert (first.name, first.type, list(first.top)) == ("input", "Input", ["color", "depth"])
    assert [list(s.dim) for s in first.input_param.shape] == [[1, 3, 425, 560], [1, 1, 425, 560]]
    assert not [layer for layer in n.net.layer if layer.type in ("Dropout", "SoftmaxWithLoss")]


def test_every_file_has_a_solver_and_readme(tmp_path: Path) -> None:
    files = gen.outputs(tmp_path)
    names = [m.name for m in gen.models()]
    assert len(files) == 5 * len(names)
    for name in names:
        solver = files[tmp_path / "solvers" / f"{name}.prototxt"]
        assert f'train_net: "../models/{name}/train.prototxt"' in solver
        assert f'test_net: "../models/{name}/val.prototxt"' in solver
        assert "## Crop offsets" in files[tmp_path / "models" / name / "README.md"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True,
                          text=True, check=False)


def test_check_detects_a_changed_and_a_missing_file(tmp_path: Path) -> None:
    assert _run("--root", str(tmp_path)).returncode == 0
    assert _run("--root", str(tmp_path), "--check").returncode == 0
    net = tmp_path / "models" / "voc-fcn8s" / "deploy.prototxt"
    net.write_text(net.read_text().replace("offset: 31", "offset: 34"))
    (tmp_path / "solvers" / "voc-fcn32s.prototxt").unlink()
    result = _run("--root", str(tmp_path), "--check")
    assert result.returncode == 1
    assert "models/voc-fcn8s/deploy.prototxt: differs from" in result.stderr
    assert "solvers/voc-fcn32s.prototxt: missing from" in result.stderr
    assert "2 of 90 files are stale" in result.stderr
    # Writing again repairs exactly those two.
    assert "2 written" in _run("--root", str(tmp_path)).stdout
    assert _run("--root", str(tmp_path), "--check").returncode == 0


def test_committed_files_match_the_generator() -> None:
    """models/ and solvers/ in the checkout are what the generator writes."""
    result = _run("--check")
    assert result.returncode == 0, result.stderr
