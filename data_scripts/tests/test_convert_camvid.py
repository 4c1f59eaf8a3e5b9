# SPDX-License-Identifier: BSD-2-Clause
# convert_camvid.py on a tiny SegNet-layout fixture and on ../shared/data/camvid/240x180.
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import check_lmdb
import convert_camvid
from dbutil import decode_rgb, random_rgb, raw_label, read_db, run_script, save_rgb

NAMES = ["0001TP_006690", "0001TP_006720", "Seq05VD_f00000"]
H, W = 9, 12


def make_camvid(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """train/, trainannot/ (grayscale 0..11) and train.txt with relative 'image label' lines."""
    rng = np.random.default_rng(5)
    arrays = {}
    (root / "trainannot").mkdir(parents=True)
    lines = []
    for name in NAMES:
        image = random_rgb(rng, H, W)
        label = rng.integers(0, 12, (H, W)).astype(np.uint8)
        save_rgb(root / "train" / f"{name}.png", image)
        Image.fromarray(label, mode="L").save(root / "trainannot" / f"{name}.png")
        arrays[name] = (image, label)
        lines.append(f"train/{name}.png trainannot/{name}.png")
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    return arrays


def test_train(tmp_path):
    arrays = make_camvid(tmp_path / "CamVid")
    db = tmp_path / "db"
    assert run_script(convert_camvid.main, ["--root", str(tmp_path / "CamVid"), "--split",
                                            "train", "--out", str(db)]) == 0
    meta, keys, datums = read_db(db)
    assert meta == {"format": "fcn-seg-1", "count": 3, "fields": ["data", "label"],
                    "dataset": "camvid", "split": "train", "ignore_label": 11, "classes": 11,
                    "label_classes": {"label": 11}}
    assert keys == [f"{i:08d}_{n}/{f}" for i, n in enumerate(NAMES) for f in ("data", "label")]
    for i, name in enumerate(NAMES):
        image, label = arrays[name]
        np.testing.assert_array_equal(decode_rgb(datums[f"{i:08d}_{name}/data"]), image)
        np.testing.assert_array_equal(raw_label(datums[f"{i:08d}_{name}/label"]), label)


def test_segnet_absolute_paths(tmp_path):
    arrays = make_camvid(tmp_path / "CamVid")
    listing = tmp_path / "segnet_train.txt"
    listing.write_text("".join(f"/SegNet/CamVid/train/{n}.png /SegNet/CamVid/trainannot/{n}.png\n"
                               for n in NAMES[:2]))
    db = tmp_path / "db"
    assert run_script(convert_camvid.main, ["--root", str(tmp_path / "CamVid"), "--split",
                                            "train", "--list", str(listing), "--out",
                                            str(db)]) == 0
    _, _, datums = read_db(db)
    np.testing.assert_array_equal(raw_label(datums[f"00000001_{NAMES[1]}/label"]),
                                  arrays[NAMES[1]][1])


def test_label_12_is_refused(tmp_path, capsys):
    make_camvid(tmp_path / "CamVid")
    path = tmp_path / "CamVid" / "trainannot" / f"{NAMES[2]}.png"
    Image.fromarray(np.full((H, W), 12, dtype=np.uint8), mode="L").save(path)
    assert run_script(convert_camvid.main, ["--root", str(tmp_path / "CamVid"), "--split",
                                            "train", "--out", str(tmp_path / "db")]) == 2
    assert f"{path}: label value(s) 12 ({H * W} pixels) outside the classes; allowed: 0..10 " \
        "and 11" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["CamVid"]


def test_colour_label_is_refused(tmp_path, capsys):
    make_camvid(tmp_path / "CamVid")
    path = tmp_path / "CamVid" / "trainannot" / f"{NAMES[0]}.png"
    save_rgb(path, np.zeros((H, W, 3), dtype=np.uint8))
    assert run_script(convert_camvid.main, ["--root", str(tmp_path / "CamVid"), "--split",
                                            "train", "--out", str(tmp_path / "db")]) == 2
    assert f"{path}: label image has mode RGB" in capsys.readouterr().err


def test_malformed_list_line(tmp_path, capsys):
    make_camvid(tmp_path / "CamVid")
    (tmp_path / "CamVid" / "train.txt").write_text("train/a.png\n")
    assert run_script(convert_camvid.main, ["--root", str(tmp_path / "CamVid"), "--split",
                                            "train", "--out", str(tmp_path / "db")]) == 2
    assert "train.txt: entry 1 'train/a.png' is not an 'IMAGE LABEL' pair" \
        in capsys.readouterr().err


@pytest.mark.shared
@pytest.mark.parametrize("split,count", [("train", 367), ("val", 101)])
def test_real_camvid(tmp_path, shared_data, split, count):
    root = shared_data / "camvid" / "240x180"
    if not (root / f"{split}.txt").is_file():
        pytest.skip(f"{root}/{split}.txt not found: CamVid test skipped")
    db = tmp_path / split
    assert run_script(convert_camvid.main, ["--root", str(root), "--split", split, "--out",
                                            str(db)]) == 0
    report = check_lmdb.scan(db)
    assert report.problems == []
    summary = report.as_dict()
    assert summary["count"] == count
    assert summary["fields"] == ["data", "label"]
    assert summary["shapes"] == {"data": {"3x180x240": count}, "label": {"1x180x240": count}}
    assert summary["label_values"] == {"label": list(range(12))}
    assert sum(summary["histogram"]["label"].values()) == count * 180 * 240
