# SPDX-License-Identifier: BSD-2-Clause
# pytest set-up for the data scripts: import path and the ../shared data folder.
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SCRIPTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCRIPTS_DIR))


def shared_dir() -> Path | None:
    """FCN_SHARED_DIR, else ../shared beside the repository; None when absent."""
    env = os.environ.get("FCN_SHARED_DIR")
    path = Path(env) if env else SCRIPTS_DIR.parent.parent / "shared"
    return path.resolve() if path.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip with a message naming what is missing."""
    root = shared_dir()
    if root is None or not (root / "data").is_dir():
        pytest.skip("../shared/data not found (set FCN_SHARED_DIR): real-data test skipped")
    return root / "data"
