# SPDX-License-Identifier: BSD-2-Clause
# convert_nyud.py on a tiny NYUDv2 fixture: colour, HHA order, 16-bit log-depth, label shift.
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

import convert_nyud
from dbutil import decode_rgb, float_plane, random_rgb, raw_label, read_db, run_script, save_rgb

IDS = ["5001", "5003"]
H, W = 12, 16


def save_depth(path: Path, depth: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(depth.astype(np.uint16)).save(path)


def make_nyud(root: Path) -> dict[str, dict[str, np.ndarray]]:
    """data/{images,hha,depth}/img_<id>.png and segmentation/img_<id>.mat; the arrays by id."""
    rng = np.random.default_rng(7)
    arrays = {}
    (root / "segmentation").mkdir(parents=True)
    for sample_id in IDS:
        color = random_rgb(rng, H, W)
        hha = random_rgb(rng, H, W)
        depth = rng.integers(500, 10000, (H, W)).astype(np.uint16)
        depth[0, 0] = 0  # no reading
        raw = rng.integers(0, 41, (H, W)).astype(np.uint8)
        raw[1, :3] = [0, 1, 40]
        save_rgb(root / "data" / "images" / f"img_{sample_id}.png", color)
        save_rgb(root / "data" / "hha" / f"img_{sample_id}.png", hha)
        save_depth(root / "data" / "depth" / f"img_{sample_id}.png", depth)
        scipy.io.savemat(root / "segmentation" / f"img_{sample_id}.mat", {"segmentation": raw})
        arrays[sample_id] = {"color": color, "hha": hha, "depth": depth, "raw": raw}
    (root / "trainval.txt").write_text("\n".join(IDS) + "\n")
    return arrays


def test_all_fields(tmp_path, capsys):
    arrays = make_nyud(tmp_path / "nyud")
    db = tmp_path / "db"
    assert run_script(convert_nyud.main, ["--root", str(tmp_path / "nyud"), "--split",
                                          "trainval", "--out", str(db)]) == 0
    assert "2 pixels had depth 0" in capsys.readouterr().out
    meta, keys, datums = read_db(db)
    assert meta == {"format": "fcn-seg-1", "count": 2,
                    "fields": ["color", "hha", "depth", "label"], "dataset": "nyud",
                    "split": "trainval", "ignore_label": 255, "classes": 40,
                    "label_classes": {"label": 40}}
    assert keys == [f"{i:08d}_{sid}/{f}" for i, sid in enumerate(IDS)
                    for f in ("color", "depth", "hha", "label")]
    for i, sample_id in enumerate(IDS):
        a = arrays[sample_id]
        prefix = f"{i:08d}_{sample_id}/"
        color = datums[prefix + "color"]
        assert color.data == (tmp_path / "nyud" / "data" / "images" /
                              f"img_{sample_id}.png").read_bytes()
        np.testing.assert_array_equal(decode_rgb(color), a["color"])
        # HHA is stored channel-reversed: the stored PNG's RGB is the file's BGR.
        np.testing.assert_array_equal(decode_rgb(datums[prefix + "hha"]), a["hha"][:, :, ::-1])
        depth = float_plane(datums[prefix + "depth"])
        expected = np.log(np.maximum(a["depth"], 1).astype(np.float32))
        expected[0, 0] = 7.844
        np.testing.assert_allclose(depth, expected, rtol=1e-6)
        label = raw_label(datums[prefix + "label"])
        np.testing.assert_array_equal(label, (a["raw"].astype(np.int64) - 1) % 256)
        assert label[1, 0] == 255 and label[1, 1] == 0 and label[1, 2] == 39


def test_opencv_decode_gives_reference_order(tmp_path):
    cv2 = pytest.importorskip("cv2")
    arrays = make_nyud(tmp_path / "nyud")
    db = tmp_path / "db"
    assert run_script(convert_nyud.main, ["--root", str(tmp_path / "nyud"), "--split",
                                          "trainval", "--out", str(db)]) == 0
    _, _, datums = read_db(db)
    a = arrays[IDS[0]]
    hha = cv2.imdecode(np.frombuffer(datums[f"00000000_{IDS[0]}/hha"].data, np.uint8),
                       cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(hha, a["hha"])  # PIL (file) order, as the reference feeds it
    color = cv2.imdecode(np.frombuffer(datums[f"00000000_{IDS[0]}/color"].data, np.uint8),
                         cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(color, a["color"][:, :, ::-1])  # BGR, as Caffe


def test_field_subset(tmp_path):
    make_nyud(tmp_path / "nyud")
    db = tmp_path / "db"
    assert run_script(convert_nyud.main, ["--root", str(tmp_path / "nyud"), "--split",
                                          "trainval", "--fields", "label,color", "--out",
                                          str(db)]) == 0
    meta, keys, _ = read_db(db)
    assert meta["fields"] == ["color", "label"]
    assert len(keys) == 4


def test_8bit_depth_is_refused(tmp_path, capsys):
    make_nyud(tmp_path / "nyud")
    path = tmp_path / "nyud" / "data" / "depth" / f"img_{IDS[1]}.png"
    Image.fromarray(np.ones((H, W), dtype=np.uint8)).save(path)
    assert run_script(convert_nyud.main, ["--root", str(tmp_path / "nyud"), "--split",
                                          "trainval", "--out", str(tmp_path / "db")]) == 2
    assert f"{path}: depth image has mode L; expected a 16-bit" in capsys.readouterr().err
    assert not (tmp_path / "db").exists()


def test_label_value_41(tmp_path, capsys):
    make_nyud(tmp_path / "nyud")
    path = tmp_path / "nyud" / "segmentation" / f"img_{IDS[0]}.mat"
    scipy.io.savemat(path, {"segmentation": np.full((H, W), 41, dtype=np.uint8)})
    assert run_script(convert_nyud.main, ["--root", str(tmp_path / "nyud"), "--split",
                                          "trainval", "--out", str(tmp_path / "db")]) == 2
    assert f"{path}: label value(s) 41 ({H * W} pixels) outside the classes; allowed: 0..40" \
        in capsys.readouterr().err


def test_hha_size_mismatch(tmp_path, capsys):
    make_nyud(tmp_path / "nyud")
    hha = tmp_path / "nyud" / "data" / "hha" / f"img_{IDS[1]}.png"
    save_rgb(hha, np.zeros((H, W + 1, 3), dtype=np.uint8))
    assert run_script(convert_nyud.main, ["--root", str(tmp_path / "nyud"), "--split",
                                          "trainval", "--out", str(tmp_path / "db")]) == 2
    color = tmp_path / "nyud" / "data" / "images" / f"img_{IDS[1]}.png"
    assert f"{hha}: hha is {W + 1}x{H} (WxH) but its image {color} is {W}x{H}" \
        in capsys.readouterr().err
    assert not (tmp_path / "db").exists()


def test_missing_mat_variable(tmp_path, capsys):
    make_nyud(tmp_path / "nyud")
    path = tmp_path / "nyud" / "segmentation" / f"img_{IDS[0]}.mat"
    scipy.io.savemat(path, {"labels": np.zeros((H, W), dtype=np.uint8)})
    assert run_script(convert_nyud.main, ["--root", str(tmp_path / "nyud"), "--split",
                                          "trainval", "--out", str(tmp_path / "db")]) == 2
    assert f"{path}: no variable 'segmentation' (variables: labels)" in capsys.readouterr().err


def test_unknown_field(tmp_path, capsys):
    make_nyud(tmp_path / "nyud")
    assert run_script(convert_nyud.main, ["--root", str(tmp_path / "nyud"), "--split",
                                          "trainval", "--fields", "color,normals", "--out",
                                          str(tmp_path / "db")]) == 2
    assert "unknown field(s) normals" in capsys.readouterr().err
