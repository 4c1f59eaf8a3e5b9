# SPDX-License-Identifier: BSD-2-Clause
# convert_voc.py on tiny VOC (palette PNG) and SBD (.mat GTcls) fixtures, and its bad inputs.
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

import convert_voc
from dbutil import (decode_rgb, random_rgb, raw_label, read_db, run_script, save_palette_png,
                    save_rgb)

IDS = ["2008_000002", "2008_000003", "2007_000032"]
SIZES = {"2008_000002": (20, 30), "2008_000003": (17, 23), "2007_000032": (25, 16)}


def make_voc(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A VOC year folder with 3 images; returns the labels by id."""
    rng = np.random.default_rng(seed)
    labels = {}
    for sample_id in IDS:
        h, w = SIZES[sample_id]
        save_rgb(root / "JPEGImages" / f"{sample_id}.jpg", random_rgb(rng, h, w), quality=90)
        label = rng.integers(0, 21, (h, w)).astype(np.uint8)
        label[0, :] = 255  # void border, as VOC's object outlines
        labels[sample_id] = label
        save_palette_png(root / "SegmentationClass" / f"{sample_id}.png", label)
    lists = root / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    (lists / "train.txt").write_text("".join(i + "\n" for i in IDS[:2]))
    (lists / "val.txt").write_text(IDS[2] + "\n")
    return labels


def make_sbd(root: Path, seed: int = 1) -> dict[str, np.ndarray]:
    """An SBD dataset folder (img/*.jpg, cls/*.mat with GTcls.Segmentation)."""
    rng = np.random.default_rng(seed)
    labels = {}
    (root / "cls").mkdir(parents=True)
    for sample_id in IDS:
        h, w = SIZES[sample_id]
        save_rgb(root / "img" / f"{sample_id}.jpg", random_rgb(rng, h, w), quality=90)
        label = rng.integers(0, 21, (h, w)).astype(np.uint8)
        labels[sample_id] = label
        gtcls = {"Segmentation": label, "Boundaries": np.zeros((21, 1), dtype=object),
                 "CategoriesPresent": np.unique(label)[1:].astype(np.uint8)}
        scipy.io.savemat(root / "cls" / f"{sample_id}.mat", {"GTcls": gtcls})
    (root / "train.txt").write_text("\n".join(IDS) + "\n")
    return labels


def check_db(db: Path, image_dir: Path, ids: list[str], labels: dict[str, np.ndarray],
             split: str) -> None:
    meta, keys, datums = read_db(db)
    assert meta == {"format": "fcn-seg-1", "count": len(ids), "fields": ["data", "label"],
                    "dataset": "voc", "split": split, "ignore_label": 255, "classes": 21,
                    "label_classes": {"label": 21}}
    expected = [f"{i:08d}_{sid}/{field}" for i, sid in enumerate(ids)
                for field in ("data", "label")]
    assert keys == expected
    for i, sample_id in enumerate(ids):
        data = datums[f"{i:08d}_{sample_id}/data"]
        label = datums[f"{i:08d}_{sample_id}/label"]
        jpeg = image_dir / f"{sample_id}.jpg"
        assert data.data == jpeg.read_bytes()
        assert decode_rgb(data).shape[:2] == SIZES[sample_id]
        np.testing.assert_array_equal(raw_label(label), labels[sample_id])
        assert data.label == 0 and label.label == 0


def test_voc_train_split(tmp_path):
    labels = make_voc(tmp_path / "VOC2012")
    db = tmp_path / "db"
    assert run_script(convert_voc.main, ["--root", str(tmp_path / "VOC2012"), "--split", "train",
                                         "--out", str(db)]) == 0
    check_db(db, tmp_path / "VOC2012" / "JPEGImages", IDS[:2], labels, "train")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VOC2012", "db"]


def test_voc_list_keeps_its_order(tmp_path):
    labels = make_voc(tmp_path / "VOC2011")
    listing = tmp_path / "seg11valid.txt"
    order = [IDS[2], IDS[0]]
    listing.write_text("\n".join(order) + "\n\n")
    db = tmp_path / "db"
    assert run_script(convert_voc.main, ["--root", str(tmp_path / "VOC2011"), "--split",
                                         "seg11valid", "--list", str(listing), "--out",
                                         str(db)]) == 0
    check_db(db, tmp_path / "VOC2011" / "JPEGImages", order, labels, "seg11valid")


def test_voc_split_without_list_names_the_missing_list(tmp_path, capsys):
    make_voc(tmp_path / "VOC2011")
    status = run_script(convert_voc.main, ["--root", str(tmp_path / "VOC2011"), "--split",
                                           "seg11valid", "--out", str(tmp_path / "db")])
    assert status == 2
    err = capsys.readouterr().err
    assert "seg11valid.txt: split list not found; pass --list" in err
    assert not (tmp_path / "db").exists()


def test_sbd_train(tmp_path):
    labels = make_sbd(tmp_path / "dataset")
    db = tmp_path / "db"
    assert run_script(convert_voc.main, ["--root", str(tmp_path / "dataset"), "--split",
                                         "sbd-train", "--out", str(db)]) == 0
    check_db(db, tmp_path / "dataset" / "img", IDS, labels, "sbd-train")


def test_palette_label_gives_indices_not_colours(tmp_path):
    labels = make_voc(tmp_path / "VOC")
    db = tmp_path / "db"
    assert run_script(convert_voc.main, ["--root", str(tmp_path / "VOC"), "--split", "val",
                                         "--out", str(db)]) == 0
    _, _, datums = read_db(db)
    stored = raw_label(datums[f"00000000_{IDS[2]}/label"])
    assert set(np.unique(stored)) <= set(range(21)) | {255}
    assert 255 in stored and stored.max() == 255
    np.testing.assert_array_equal(stored, labels[IDS[2]])


def bad_input(tmp_path: Path, capsys, argv_extra=()) -> str:
    status = run_script(convert_voc.main, ["--root", str(tmp_path / "VOC"), "--split", "train",
                                           "--out", str(tmp_path / "db"), *argv_extra])
    assert status == 2
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "VOC"]
    assert leftovers == [], f"a database was left behind: {leftovers}"
    return capsys.readouterr().err


def test_label_size_differs_from_image(tmp_path, capsys):
    make_voc(tmp_path / "VOC")
    save_palette_png(tmp_path / "VOC" / "SegmentationClass" / f"{IDS[1]}.png",
                     np.zeros((5, 6), dtype=np.uint8))
    err = bad_input(tmp_path, capsys)
    label = tmp_path / "VOC" / "SegmentationClass" / f"{IDS[1]}.png"
    image = tmp_path / "VOC" / "JPEGImages" / f"{IDS[1]}.jpg"
    assert f"{label}: label is 6x5 (WxH) but its image {image} is 23x17" in err


def test_label_value_outside_classes(tmp_path, capsys):
    make_voc(tmp_path / "VOC")
    h, w = SIZES[IDS[1]]
    label = np.zeros((h, w), dtype=np.uint8)
    label[3, 4] = 37
    path = tmp_path / "VOC" / "SegmentationClass" / f"{IDS[1]}.png"
    save_palette_png(path, label)
    err = bad_input(tmp_path, capsys)
    assert f"{path}: label value(s) 37 (1 pixels) outside the classes; allowed: 0..20 and 255" \
        in err


def test_sbd_label_value_outside_classes(tmp_path, capsys):
    make_sbd(tmp_path / "dataset")
    label = np.full(SIZES[IDS[0]], 21, dtype=np.uint8)
    path = tmp_path / "dataset" / "cls" / f"{IDS[0]}.mat"
    scipy.io.savemat(path, {"GTcls": {"Segmentation": label}})
    status = run_script(convert_voc.main, ["--root", str(tmp_path / "dataset"), "--split",
                                           "train", "--out", str(tmp_path / "db")])
    assert status == 2
    assert f"{path}: label value(s) 21" in capsys.readouterr().err
    assert not (tmp_path / "db").exists()


def test_missing_file_in_list(tmp_path, capsys):
    make_voc(tmp_path / "VOC")
    listing = tmp_path / "VOC" / "ImageSets" / "Segmentation" / "train.txt"
    listing.write_text(f"{IDS[0]}\n2009_999999\n")
    err = bad_input(tmp_path, capsys)
    missing = tmp_path / "VOC" / "JPEGImages" / "2009_999999.jpg"
    assert f"{missing}: image not found (sample '2009_999999' of {listing})" in err


def test_existing_db_needs_force(tmp_path, capsys):
    make_voc(tmp_path / "VOC")
    db = tmp_path / "db"
    db.mkdir()
    (db / "keep").write_text("x")
    status = run_script(convert_voc.main, ["--root", str(tmp_path / "VOC"), "--split", "train",
                                           "--out", str(db)])
    assert status == 2
    assert f"{db}: output database already exists; pass --force" in capsys.readouterr().err
    assert (db / "keep").read_text() == "x"
    assert run_script(convert_voc.main, ["--root", str(tmp_path / "VOC"), "--split", "train",
                                         "--out", str(db), "--force"]) == 0
    assert sorted(p.name for p in db.iterdir()) == ["data.mdb", "lock.mdb"]
    assert read_db(db)[0]["count"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VOC", "db"]


def test_not_a_voc_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status = run_script(convert_voc.main, ["--root", str(tmp_path / "empty"), "--split",
                                           "train", "--out", str(tmp_path / "db")])
    assert status == 2
    assert "neither a VOC year folder" in capsys.readouterr().err


@pytest.mark.shared
def test_voc_demo_real_image(tmp_path, shared_data):
    demo = shared_data / "voc-demo"
    if not (demo / "image.jpg").is_file():
        pytest.skip(f"{demo}/image.jpg not found: VOC demo test skipped")
    root = tmp_path / "VOC"
    (root / "JPEGImages").mkdir(parents=True)
    (root / "SegmentationClass").mkdir()
    (root / "JPEGImages" / "demo.jpg").symlink_to(demo / "image.jpg")
    (root / "SegmentationClass" / "demo.png").symlink_to(demo / "label.png")
    listing = tmp_path / "demo.txt"
    listing.write_text("demo\n")
    db = tmp_path / "db"
    assert run_script(convert_voc.main, ["--root", str(root), "--split", "demo", "--list",
                                         str(listing), "--out", str(db)]) == 0
    meta, keys, datums = read_db(db)
    assert meta["count"] == 1 and keys == ["00000000_demo/data", "00000000_demo/label"]
    label = raw_label(datums["00000000_demo/label"])
    values = set(np.unique(label).tolist())
    assert values <= set(range(21)) | {255}
    assert len(values) >= 2 and 255 in values
    assert decode_rgb(datums["00000000_demo/data"]).shape == (*label.shape, 3)
    assert datums["00000000_demo/data"].data == (demo / "image.jpg").read_bytes()
