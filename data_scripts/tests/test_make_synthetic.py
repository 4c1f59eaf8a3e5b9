# SPDX-License-Identifier: BSD-2-Clause
# make_synthetic.py: determinism, layout, class content, thin structures, conversion.
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

import check_lmdb
import convert_camvid
import make_synthetic
from dbutil import read_db, run_script


def generate(out: Path, *args: str) -> None:
    assert run_script(make_synthetic.main, ["--out", str(out), *args]) == 0


def test_deterministic_layout(tmp_path):
    generate(tmp_path / "a", "--count", "10", "--size", "48x32", "--seed", "4")
    generate(tmp_path / "b", "--count", "10", "--size", "48x32", "--seed", "4")
    generate(tmp_path / "c", "--count", "10", "--size", "48x32", "--seed", "5")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files_a) == 20
    for name in files_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert ((tmp_path / "a" / "train" / "syn_00000.png").read_bytes()
            != (tmp_path / "c" / "train" / "syn_00000.png").read_bytes())
    train = (tmp_path / "a" / "train.txt").read_text().splitlines()
    val = (tmp_path / "a" / "val.txt").read_text().splitlines()
    assert len(train) == 8 and len(val) == 2
    assert val[0] == "val/syn_00008.png valannot/syn_00008.png"
    image = Image.open(tmp_path / "a" / "val" / "syn_00009.png")
    label = Image.open(tmp_path / "a" / "valannot" / "syn_00009.png")
    assert (image.mode, image.size, label.mode, label.size) == ("RGB", (48, 32), "L", (48, 32))
    info = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert info["classes"] == 6 and info["ignore_label"] == 255


def test_scene_depends_only_on_seed_and_index():
    a_image, a_label = make_synthetic.make_scene(1, 17, 64, 64)
    b_image, b_label = make_synthetic.make_scene(1, 17, 64, 64)
    np.testing.assert_array_equal(a_image, b_image)
    np.testing.assert_array_equal(a_label, b_label)


def test_content_is_hard_for_stride_32():
    labels = [make_synthetic.make_scene(1, i, 128, 128)[1] for i in range(40)]
    counts = np.bincount(np.concatenate([l.ravel() for l in labels]), minlength=7)
    assert counts[6] == 0 and (counts[:6] > 0).all()  # every class, nothing else
    assert counts[0] / counts.sum() < 0.9  # the objects are not lost in the background
    errors, pole_kept = [], []
    for label in labels:
        coarse = np.kron(label[16::32, 16::32], np.ones((32, 32), dtype=np.uint8))
        errors.append((coarse != label).mean())
        if (label == 5).any():
            pole_kept.append((coarse[label == 5] == 5).mean())
    # A stride-32 prediction that is right at every cell centre still misses many pixels.
    assert np.mean(errors) > 0.08
    assert len(pole_kept) >= 10 and np.mean(pole_kept) < 0.25


def test_occlusion_scale_and_texture():
    occluded, radii = 0, []
    stds = {cls: [] for cls in range(1, 6)}
    for i in range(30):
        objects: list = []
        image, label = make_synthetic.make_scene(2, i, 128, 128, objects)
        for k, (cls, mask) in enumerate(objects):
            visible = label[mask] == cls
            later = np.zeros_like(mask)
            for _, other in objects[k + 1:]:
                later |= other
            if (mask & later).any() and 0 < visible.mean() < 1:
                occluded += 1
            if cls != 5:
                radii.append(np.sqrt(mask.sum()))
            if (label == cls).sum() > 50:
                stds[cls].append(image[label == cls].std())
    assert occluded >= 5  # objects partly hidden by later ones
    assert max(radii) > 3 * min(radii)  # varied scale
    for cls in range(1, 5):  # textured objects, not flat colour
        assert np.median(stds[cls]) > 15, (cls, stds[cls])


def test_converts_with_dataset_json(tmp_path):
    generate(tmp_path / "syn", "--count", "12", "--size", "40")
    assert run_script(convert_camvid.main, ["--root", str(tmp_path / "syn"), "--split", "train",
                                            "--out", str(tmp_path / "db")]) == 0
    meta, keys, _ = read_db(tmp_path / "db")
    assert meta == {"format": "fcn-seg-1", "count": 10, "fields": ["data", "label"],
                    "dataset": "synthetic", "split": "train", "ignore_label": 255,
                    "classes": 6, "label_classes": {"label": 6}}
    assert keys[0] == "00000000_syn_00000/data"
    report = check_lmdb.scan(tmp_path / "db")
    assert report.problems == [] and set(report.label_values()["label"]) <= set(range(6))


def test_refuses_existing_output(tmp_path, capsys):
    (tmp_path / "syn").mkdir()
    assert run_script(make_synthetic.main, ["--out", str(tmp_path / "syn")]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    generate(tmp_path / "syn", "--count", "3", "--size", "16", "--force")
    assert (tmp_path / "syn" / "train.txt").read_text().count("\n") == 2
