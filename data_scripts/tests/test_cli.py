# SPDX-License-Identifier: BSD-2-Clause
# The scripts as commands: --help of each, and the exit status and message of a failing run.
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import SCRIPTS_DIR

SCRIPTS = ["convert_voc.py", "convert_nyud.py", "convert_siftflow.py", "convert_camvid.py",
           "check_lmdb.py", "make_synthetic.py"]


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False,
                          cwd=cwd)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script):
    result = run(str(SCRIPTS_DIR / script), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script}")
    if script.startswith("convert_"):
        for flag in ("--root", "--split", "--out", "--force", "--list"):
            assert flag in result.stdout


def test_missing_argument_is_usage_error():
    result = run(str(SCRIPTS_DIR / "convert_voc.py"), "--root", "x")
    assert result.returncode == 2
    assert "the following arguments are required: --split, --out" in result.stderr


def test_missing_root(tmp_path):
    result = run(str(SCRIPTS_DIR / "convert_camvid.py"), "--root", str(tmp_path / "none"),
                 "--split", "train", "--out", str(tmp_path / "db"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"convert_camvid.py: error: {tmp_path / 'none'}: dataset folder " \
        "not found\n"
    assert not (tmp_path / "db").exists()
