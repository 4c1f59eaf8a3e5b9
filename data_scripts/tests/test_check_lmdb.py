# SPDX-License-Identifier: BSD-2-Clause
# check_lmdb.py: the JSON report of a converted database, incomplete and corrupt databases.
from __future__ import annotations

import json
from pathlib import Path

import lmdb
import numpy as np
from PIL import Image

import check_lmdb
import common
import convert_camvid
import fcn_proto
from dbutil import random_rgb, run_script, save_rgb


def write_records(path: Path, records: dict[bytes, bytes]) -> None:
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for key, value in records.items():
            txn.put(key, value)
    env.close()


def camvid_db(tmp_path: Path) -> Path:
    root = tmp_path / "cv"
    (root / "annot").mkdir(parents=True)
    rng = np.random.default_rng(2)
    labels = [np.array([[0, 1, 1], [11, 3, 3]], dtype=np.uint8),
              np.array([[3, 3], [3, 11], [5, 5]], dtype=np.uint8)]
    lines = []
    for i, label in enumerate(labels):
        save_rgb(root / "img" / f"{i}.png", random_rgb(rng, *label.shape))
        Image.fromarray(label, mode="L").save(root / "annot" / f"{i}.png")
        lines.append(f"img/{i}.png annot/{i}.png")
    (root / "val.txt").write_text("\n".join(lines))
    assert run_script(convert_camvid.main, ["--root", str(root), "--split", "val", "--out",
                                            str(tmp_path / "db")]) == 0
    return tmp_path / "db"


def test_json_report(tmp_path, capsys):
    db = camvid_db(tmp_path)
    capsys.readouterr()
    assert run_script(check_lmdb.main, [str(db), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 2 and report["records"] == 4
    assert report["fields"] == ["data", "label"]
    assert report["complete"] is True and report["problems"] == []
    assert report["label_values"] == {"label": [0, 1, 3, 5, 11]}
    assert report["histogram"] == {"label": {"0": 1, "1": 2, "3": 5, "5": 2, "11": 2}}
    assert report["shapes"] == {"data": {"3x2x3": 1, "3x3x2": 1},
                                "label": {"1x2x3": 1, "1x3x2": 1}}
    assert report["encoded"] == {"data": [True], "label": [False]}
    assert report["meta"]["dataset"] == "camvid"


def test_text_report(tmp_path, capsys):
    db = camvid_db(tmp_path)
    capsys.readouterr()
    assert run_script(check_lmdb.main, [str(db)]) == 0
    out = capsys.readouterr().out
    assert "fcn-seg-1, 2 samples, 4 records" in out
    assert "label values: [0, 1, 3, 5, 11]" in out


def test_incomplete_database(tmp_path, capsys):
    datum = fcn_proto.load().Datum(channels=1, height=1, width=2, data=b"\x00\x01")
    write_records(tmp_path / "db", {b"00000000_a/label": datum.SerializeToString()})
    assert run_script(check_lmdb.main, [str(tmp_path / "db")]) == 2
    assert "no '~meta' record: the conversion did not finish" in capsys.readouterr().err


def corrupt(tmp_path: Path, key: bytes, value: bytes) -> Path:
    db = camvid_db(tmp_path)
    env = lmdb.open(str(db))
    with env.begin(write=True) as txn:
        txn.put(key, value)
    env.close()
    return db


def test_corrupt_record(tmp_path, capsys):
    db = corrupt(tmp_path, b"00000001_1/label", b"\xff\xff\xff\xff")
    capsys.readouterr()
    assert run_script(check_lmdb.main, [str(db)]) == 2
    err = capsys.readouterr().err
    assert "record '00000001_1/label': not a Datum" in err
    assert "sample '00000001_1': missing field(s) label" in err


def test_truncated_raw_record(tmp_path, capsys):
    datum = fcn_proto.load().Datum(channels=1, height=3, width=2, data=b"\x00" * 5)
    db = corrupt(tmp_path, b"00000001_1/label", datum.SerializeToString())
    capsys.readouterr()
    assert run_script(check_lmdb.main, [str(db)]) == 2
    assert "record '00000001_1/label': 5 data bytes for a 1x3x2 Datum (expected 6)" \
        in capsys.readouterr().err


def test_broken_encoded_image(tmp_path, capsys):
    datum = fcn_proto.load().Datum(channels=3, height=2, width=3, data=b"\x89PNG junk",
                                   encoded=True)
    db = corrupt(tmp_path, b"00000000_0/data", datum.SerializeToString())
    capsys.readouterr()
    assert run_script(check_lmdb.main, [str(db)]) == 2
    assert "record '00000000_0/data': cannot decode the encoded image" in capsys.readouterr().err


def test_plain_caffe_database(tmp_path, capsys):
    datum_type = fcn_proto.load().Datum
    records = {}
    for i, label in enumerate([3, 1, 3]):
        datum = datum_type(channels=1, height=2, width=2, data=bytes(4), label=label)
        records[f"{i:08d}_img{i}.png".encode()] = datum.SerializeToString()
    write_records(tmp_path / "db", records)
    assert run_script(check_lmdb.main, [str(tmp_path / "db"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "caffe" and report["count"] == 3
    assert report["label_values"] == {"label": [1, 3]}
    assert report["histogram"] == {"label": {"1": 1, "3": 2}}


def test_not_a_database(tmp_path, capsys):
    assert run_script(check_lmdb.main, [str(tmp_path)]) == 2
    assert f"{tmp_path}: not an LMDB directory (no data.mdb)" in capsys.readouterr().err


def test_meta_count_mismatch(tmp_path, capsys):
    db = corrupt(tmp_path, b"~meta", json.dumps(
        {"format": common.FORMAT_NAME, "count": 3, "fields": ["data", "label"]}).encode())
    capsys.readouterr()
    assert run_script(check_lmdb.main, [str(db)]) == 2
    assert "'~meta' says count 3 but the database holds 2 samples" in capsys.readouterr().err
