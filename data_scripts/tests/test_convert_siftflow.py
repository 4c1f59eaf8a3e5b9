# SPDX-License-Identifier: BSD-2-Clause
# convert_siftflow.py on a tiny SIFT Flow fixture: the reference's semantic and geometric mapping.
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

import convert_siftflow
from dbutil import decode_rgb, random_rgb, raw_label, read_db, run_script, save_rgb

SUB = "spatial_envelope_256x256_static_8outdoorcategories"
IDS = ["coast_arnat59", "street_par177", "tallbuilding_a212012"]
H = W = 16


def make_siftflow(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Images/, SemanticLabels/, GeoLabels/ under SUB; returns (S_sem, S_geo) by id."""
    rng = np.random.default_rng(3)
    labels = {}
    for d in ("SemanticLabels", "GeoLabels"):
        (root / d / SUB).mkdir(parents=True)
    for sample_id in IDS:
        save_rgb(root / "Images" / SUB / f"{sample_id}.jpg", random_rgb(rng, H, W), quality=95)
        sem = rng.integers(0, 34, (H, W)).astype(np.int32)
        sem[0, :3] = [0, 1, 33]
        geo = rng.integers(-1, 4, (H, W)).astype(np.int16)
        geo[0, :5] = [-1, 0, 1, 2, 3]
        scipy.io.savemat(root / "SemanticLabels" / SUB / f"{sample_id}.mat", {"S": sem})
        scipy.io.savemat(root / "GeoLabels" / SUB / f"{sample_id}.mat", {"S": geo})
        labels[sample_id] = (sem, geo)
    (root / "trainval.txt").write_text("\n".join(IDS[:2]) + "\n")
    (root / "test.txt").write_text(IDS[2] + "\n")
    return labels


def test_trainval(tmp_path):
    labels = make_siftflow(tmp_path / "siftflow")
    db = tmp_path / "db"
    assert run_script(convert_siftflow.main, ["--root", str(tmp_path / "siftflow"), "--split",
                                              "trainval", "--out", str(db)]) == 0
    meta, keys, datums = read_db(db)
    assert meta == {"format": "fcn-seg-1", "count": 2, "fields": ["data", "sem", "geo"],
                    "dataset": "siftflow", "split": "trainval", "ignore_label": 255,
                    "label_classes": {"sem": 33, "geo": 3}}
    assert keys == [f"{i:08d}_{sid}/{f}" for i, sid in enumerate(IDS[:2])
                    for f in ("data", "geo", "sem")]
    for i, sample_id in enumerate(IDS[:2]):
        sem_raw, geo_raw = labels[sample_id]
        prefix = f"{i:08d}_{sample_id}/"
        image = tmp_path / "siftflow" / "Images" / SUB / f"{sample_id}.jpg"
        assert datums[prefix + "data"].data == image.read_bytes()
        assert decode_rgb(datums[prefix + "data"]).shape == (H, W, 3)
        sem = raw_label(datums[prefix + "sem"])
        geo = raw_label(datums[prefix + "geo"])
        np.testing.assert_array_equal(sem, np.where(sem_raw == 0, 255, sem_raw - 1))
        expected_geo = np.where(geo_raw <= 0, 255, geo_raw - 1)
        np.testing.assert_array_equal(geo, expected_geo)
        assert list(sem[0, :3]) == [255, 0, 32]
        assert list(geo[0, :5]) == [255, 255, 0, 1, 2]


def test_test_split_with_list(tmp_path):
    make_siftflow(tmp_path / "siftflow")
    listing = tmp_path / "mine.txt"
    listing.write_text(f"{IDS[2]}\n{IDS[0]}\n")
    db = tmp_path / "db"
    assert run_script(convert_siftflow.main, ["--root", str(tmp_path / "siftflow"), "--split",
                                              "test", "--list", str(listing), "--out",
                                              str(db)]) == 0
    meta, keys, _ = read_db(db)
    assert meta["count"] == 2 and keys[0] == f"00000000_{IDS[2]}/data"


def test_geometric_value_out_of_range(tmp_path, capsys):
    make_siftflow(tmp_path / "siftflow")
    path = tmp_path / "siftflow" / "GeoLabels" / SUB / f"{IDS[1]}.mat"
    geo = np.ones((H, W), dtype=np.int16)
    geo[2, 2] = 4
    scipy.io.savemat(path, {"S": geo})
    assert run_script(convert_siftflow.main, ["--root", str(tmp_path / "siftflow"), "--split",
                                              "trainval", "--out", str(tmp_path / "db")]) == 2
    assert f"{path}: label value(s) 4 (1 pixels) outside the classes; allowed: 0..3" \
        in capsys.readouterr().err
    assert not (tmp_path / "db").exists()


def test_semantic_size_mismatch(tmp_path, capsys):
    make_siftflow(tmp_path / "siftflow")
    path = tmp_path / "siftflow" / "SemanticLabels" / SUB / f"{IDS[0]}.mat"
    scipy.io.savemat(path, {"S": np.ones((H, W - 2), dtype=np.int32)})
    assert run_script(convert_siftflow.main, ["--root", str(tmp_path / "siftflow"), "--split",
                                              "trainval", "--out", str(tmp_path / "db")]) == 2
    image = tmp_path / "siftflow" / "Images" / SUB / f"{IDS[0]}.jpg"
    assert f"{path}: semantic label is {W - 2}x{H} (WxH) but its image {image} is {W}x{H}" \
        in capsys.readouterr().err


def test_missing_geometric_label(tmp_path, capsys):
    make_siftflow(tmp_path / "siftflow")
    path = tmp_path / "siftflow" / "GeoLabels" / SUB / f"{IDS[1]}.mat"
    path.unlink()
    assert run_script(convert_siftflow.main, ["--root", str(tmp_path / "siftflow"), "--split",
                                              "trainval", "--out", str(tmp_path / "db")]) == 2
    listing = tmp_path / "siftflow" / "trainval.txt"
    assert (f"{path}: geometric label not found (sample '{IDS[1]}' of {listing})"
            in capsys.readouterr().err)
    assert [p.name for p in tmp_path.iterdir()] == ["siftflow"]
