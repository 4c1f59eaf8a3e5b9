# SPDX-License-Identifier: BSD-2-Clause
# Tests of models/generate.py: the crop offsets it takes from `fcntool align`, the nets' shape,
# and --check.
"""pytest for the model generator (run with /usr/bin/python3 -m pytest models/tests).

The generator asks fcntool for every Crop offset: the tests use $FCNTOOL (ctest sets it to the
built fcntool), else build/src/fcntool, and skip with a message when neither exists."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
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


@pytest.fixture(scope="session")
def fcntool() -> Path:
    """The fcntool to align with: $FCNTOOL must exist when set; the default may be unbuilt."""
    if "FCNTOOL" in os.environ:
        path = Path(os.environ["FCNTOOL"])
        assert path.is_file(), f"FCNTOOL={path} does not exist"
        return path
    path = gen.default_fcntool()
    if not path.is_file():
        pytest.skip(f"{path} is not built (cmake --build build --target fcntool), and FCNTOOL "
                    "is not set")
    return path


def _crops(name: str, fcntool: Path) -> dict[str, dict[str, int]]:
    """phase -> {Crop layer: offset} of one model, its three nets aligned in one batch."""
    model = next(m for m in gen.models() if m.name == name)
    nets = gen.build_nets([model], fcntool)
    return {key.split("/")[1]: {layer.name: layer.crop_param.offset[0] for layer in net.layer
                                if layer.type == "Crop"} for key, net in nets.items()}


def test_the_builder_leaves_offsets_to_fcntool() -> None:
    """Without align, every Crop carries the placeholder: Python derives nothing itself."""
    model = next(m for m in gen.models() if m.name == "voc-fcn8s")
    n = gen.NetBuilder(model.name, "val", model.deploy_size)
    model.build(n)
    crops = [layer for layer in n.net.layer if layer.type == "Crop"]
    assert [layer.name for layer in crops] == ["score_pool4c", "score_pool3c", "score"]
    assert all(list(layer.crop_param.offset) == [gen.PENDING_OFFSET] for layer in crops)


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
def test_derived_crop_offsets(name: str, expected: dict[str, int], fcntool: Path) -> None:
    """The offsets of fcn-reference.md section 7.4, as fcntool align derives them."""
    assert _crops(name, fcntool) == {"train": expected, "val": expected, "deploy": expected}


def test_nets_aligned_together_stay_apart(fcntool: Path) -> None:
    """Two nets with the same blob names in one align batch: each Crop sees its own net."""
    nets = {}
    for key, pad in (("a", 0), ("b", 1)):
        n = gen.NetBuilder(key, "deploy", (64, 64))
        data = n.data("data", gen.DataSpec("db", ["data", "label"]))[0]
        conv = n.conv("conv", data, 4, 3, pad=pad)
        n.crop("crop", data, conv)
        nets[key] = n.net
    gen.align_crops(nets, fcntool)
    offsets = {key: list(net.layer[-1].crop_param.offset) for key, net in nets.items()}
    assert offsets == {"a": [1], "b": [0]}  # k3 pad 0 shrinks by 1 a side; pad 1 keeps size
    # A net cannot reach another's blobs: "conv" exists only in net "a".
    n = gen.NetBuilder("c", "deploy", (64, 64))
    data = n.data("data", gen.DataSpec("db", ["data", "label"]))[0]
    n.crop("crop", data, "conv")
    with pytest.raises(gen.CropError, match=r'layer "c/crop" \(Crop\).*needs two bottoms'):
        gen.align_crops({"a": nets["a"], "c": n.net}, fcntool)


def test_unalignable_crop_is_refused(fcntool: Path) -> None:
    n = gen.NetBuilder("x", "deploy", (64, 64))
    data = n.data("data", gen.DataSpec("db", ["data", "label"]))[0]
    coarse = n.pool("pool", data)
    n.crop("bad", coarse, data)  # scale 1/2: no offset aligns them
    with pytest.raises(gen.CropError,
                       match=r'layer "x/deploy/bad" \(Crop\).*differ in scale \(2\)'):
        gen.align_crops({"x/deploy": n.net}, fcntool)

    n = gen.NetBuilder("x", "deploy", (64, 64))
    data = n.data("data", gen.DataSpec("db", ["data", "label"]))[0]
    padded = n.conv("conv", data, 4, 3, pad=0)
    n.crop("bad", padded, data)  # would need offset -1
    with pytest.raises(gen.CropError,
                       match=r'layer "x/deploy/bad" \(Crop\).*offset -1 .*not a non-negative'):
        gen.align_crops({"x/deploy": n.net}, fcntool)


def test_generate_names_the_crop_it_cannot_align(fcntool: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def build(n: gen.NetBuilder) -> None:
        data = n.data("data", gen.DataSpec("db", ["data", "label"]))[0]
        n.crop("misfit", n.pool("pool", data), data)

    bad = gen.Model("bad-net", build, (64, 64), {}, "# bad\n\n## Scores\n\nnone\n")
    monkeypatch.setattr(gen, "models", lambda: [bad])
    assert gen.main(["--root", str(tmp_path), "--fcntool", str(fcntool)]) == 1
    err = capsys.readouterr().err
    assert 'layer "bad-net/train/misfit" (Crop): no offset can be derived' in err
    assert not (tmp_path / "models").exists()  # nothing written


def test_missing_fcntool_says_how_to_build_it(tmp_path: Path) -> None:
    result = _run("--root", str(tmp_path), "--fcntool", str(tmp_path / "no-fcntool"))
    assert result.returncode == 2
    assert f"{tmp_path / 'no-fcntool'}: no fcntool there" in result.stderr
    assert "cmake --build build --target fcntool" in result.stderr
    assert not (tmp_path / "models").exists()


def test_deploy_has_input_and_no_dropout_or_loss() -> None:
    model = next(m for m in gen.models() if m.name == "nyud-fcn32s-color-d")
    n = gen.NetBuilder(model.name, "deploy", model.deploy_size)
    model.build(n)
    first = n.net.layer[0]
    assert (first.name, first.type, list(first.top)) == ("input", "Input", ["color", "depth"])
    assert [list(s.dim) for s in first.input_param.shape] == [[1, 3, 425, 560], [1, 1, 425, 560]]
    assert not [layer for layer in n.net.layer if layer.type in ("Dropout", "SoftmaxWithLoss")]


def test_every_file_has_a_solver_and_readme(tmp_path: Path, fcntool: Path) -> None:
    files = gen.outputs(tmp_path, fcntool)
    names = [m.name for m in gen.models()]
    assert len(files) == 5 * len(names)
    for name in names:
        solver = files[tmp_path / "solvers" / f"{name}.prototxt"]
        assert f'train_net: "../models/{name}/train.prototxt"' in solver
        assert f'test_net: "../models/{name}/val.prototxt"' in solver
        assert "## Crop offsets" in files[tmp_path / "models" / name / "README.md"]
    assert "| `score_pool3c` | `score_pool3` | `upscore_pool4` | 9 |" in files[
        tmp_path / "models" / "voc-fcn8s" / "README.md"]
    assert str(gen.PENDING_OFFSET) not in "".join(files.values())


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True,
                          text=True, check=False)


def test_check_detects_a_changed_and_a_missing_file(tmp_path: Path, fcntool: Path) -> None:
    tool = ("--fcntool", str(fcntool))
    assert _run("--root", str(tmp_path), *tool).returncode == 0
    assert _run("--root", str(tmp_path), "--check", *tool).returncode == 0
    net = tmp_path / "models" / "voc-fcn8s" / "deploy.prototxt"
    net.write_text(net.read_text().replace("offset: 31", "offset: 34"))
    (tmp_path / "solvers" / "voc-fcn32s.prototxt").unlink()
    result = _run("--root", str(tmp_path), "--check", *tool)
    assert result.returncode == 1
    assert "models/voc-fcn8s/deploy.prototxt: differs from" in result.stderr
    assert "solvers/voc-fcn32s.prototxt: missing from" in result.stderr
    assert "2 of 90 files are stale" in result.stderr
    # Writing again repairs exactly those two.
    assert "2 written" in _run("--root", str(tmp_path), *tool).stdout
    assert _run("--root", str(tmp_path), "--check", *tool).returncode == 0


def test_committed_files_match_the_generator(fcntool: Path) -> None:
    """models/ and solvers/ in the checkout are what the generator writes."""
    result = _run("--check", "--fcntool", str(fcntool))
    assert result.returncode == 0, result.stderr
