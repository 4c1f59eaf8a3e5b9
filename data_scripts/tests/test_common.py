# SPDX-License-Identifier: BSD-2-Clause
# common.py and fcn_proto.py: map growth, interrupted conversions, keys, progress, proto module.
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

import common
import fcn_proto
from dbutil import raw_label, read_db

SPEC = {"label": common.LabelSpec(classes=4, ignore_label=255)}


def loader(size: int, fail_at: str | None = None, error: BaseException | None = None):
    def load(sample_id: str) -> common.Sample:
        if sample_id == fail_at:
            raise error
        label = np.full((size, size), int(sample_id[-1]) % 4, dtype=np.uint8)
        return common.Sample(datums={"label": common.label_datum(label)},
                             labels={"label": label})
    return load


def test_map_size_grows(tmp_path, capsys):
    db = tmp_path / "db"
    ids = [f"s{i}" for i in range(12)]
    # 12 samples of 256 KiB against a 64 KiB initial map: the map must double several times.
    common.convert(out=db, force=False, dataset="t", split="x", fields=("label",), ids=ids,
                   load=loader(512), specs=SPEC, initial_map_size=1 << 16,
                   progress_stream=io.StringIO())
    meta, keys, datums = read_db(db)
    assert meta["count"] == 12 and len(keys) == 12
    assert raw_label(datums["00000011_s11/label"]).shape == (512, 512)
    assert int(raw_label(datums["00000007_s7/label"])[5, 5]) == 3
    assert "12 samples" in capsys.readouterr().out


@pytest.mark.parametrize("error", [common.ConversionError("bad file"), KeyboardInterrupt()])
def test_interrupted_conversion_leaves_nothing(tmp_path, error):
    db = tmp_path / "db"
    with pytest.raises(type(error)):
        common.convert(out=db, force=False, dataset="t", split="x", fields=("label",),
                       ids=["a0", "a1", "a2"], load=loader(4, "a2", error), specs=SPEC,
                       progress_stream=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_failed_forced_conversion_keeps_old_database(tmp_path):
    db = tmp_path / "db"
    common.convert(out=db, force=False, dataset="t", split="x", fields=("label",), ids=["a1"],
                   load=loader(4), specs=SPEC, progress_stream=io.StringIO())
    with pytest.raises(common.ConversionError):
        common.convert(out=db, force=True, dataset="t", split="y", fields=("label",),
                       ids=["a0", "a2"], load=loader(4, "a2", common.ConversionError("x")),
                       specs=SPEC, progress_stream=io.StringIO())
    assert read_db(db)[0]["split"] == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["db"]


def test_sample_key():
    assert common.sample_key(42, "2008_000123", "label") == b"00000042_2008_000123/label"
    with pytest.raises(common.ConversionError, match="contains '/'"):
        common.sample_key(0, "a/b", "data")
    with pytest.raises(common.ConversionError, match="printable ASCII"):
        common.sample_key(0, "a b", "data")


def test_datums_round_trip():
    datum_type = fcn_proto.load().Datum
    label = np.arange(6, dtype=np.uint8).reshape(2, 3)
    datum = datum_type.FromString(common.label_datum(label))
    assert (datum.channels, datum.height, datum.width, datum.encoded) == (1, 2, 3, False)
    assert datum.data == label.tobytes() and not datum.HasField("label")
    values = np.array([[0.5, -1.25], [7.844, 3.0]], dtype=np.float32)
    datum = datum_type.FromString(common.float_datum(values))
    assert (datum.channels, datum.height, datum.width) == (1, 2, 2)
    assert list(datum.float_data) == values.ravel().tolist() and datum.data == b""


def test_progress_lines_when_not_a_terminal():
    stream = io.StringIO()
    progress = common.Progress(20, "demo", stream)
    for done in range(1, 21):
        progress.update(done)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11  # the first item, then every tenth
    assert lines[-1].startswith("demo [" + "#" * 30 + "] 20/20 100%")


def test_proto_module_generated_from_scratch(tmp_path, monkeypatch):
    monkeypatch.setattr(fcn_proto, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(fcn_proto, "_module", None)
    module = fcn_proto.load()
    assert (tmp_path / "cache" / "fcn_pb2.py").is_file()
    assert (tmp_path / "cache" / "fcn.proto.sha256").read_text().strip() == \
        fcn_proto._proto_digest()
    assert module.Datum(channels=3).SerializeToString() == b"\x08\x03"


def test_proto_module_missing_protoc(tmp_path, monkeypatch):
    monkeypatch.setattr(fcn_proto, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(fcn_proto, "_module", None)
    monkeypatch.setattr(fcn_proto, "_find_protoc", lambda: None)
    monkeypatch.setattr(fcn_proto, "_from_build_dir", lambda: None)
    with pytest.raises(fcn_proto.ProtoModuleError, match="protoc is not on PATH"):
        fcn_proto.load()


def test_scripts_run_without_pythonpath(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    script = common.__file__.replace("common.py", "check_lmdb.py")
    result = subprocess.run([sys.executable, script, str(tmp_path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"check_lmdb.py: error: {tmp_path}: not an LMDB directory (no data.mdb)")


def test_proto_module_unwritable_checkout(tmp_path, monkeypatch):
    # A cache folder that cannot be created (its parent is a file: fails even for root).
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(fcn_proto, "CACHE_DIR", tmp_path / "file" / "cache")
    monkeypatch.setattr(fcn_proto, "_module", None)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(fcn_proto.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    module = fcn_proto.load()
    assert module.__file__.startswith(str(tmp_path / "tmp" / "fcn_pb2-"))
    assert module.Datum(height=2).SerializeToString() == b"\x10\x02"


def test_voc_palette_is_the_reference_table():
    import palette
    table = palette.voc_palette()
    assert table.shape == (256, 3)
    assert table[0].tolist() == [0, 0, 0]
    assert table[1].tolist() == [128, 0, 0]
    assert table[15].tolist() == [192, 128, 128]
    assert table[255].tolist() == [224, 224, 192]
