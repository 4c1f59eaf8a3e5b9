# SPDX-License-Identifier: BSD-2-Clause
# Test helpers: read back an fcn LMDB, decode Datums, run a script's main and capture its exit.
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Callable, Sequence

import lmdb
import numpy as np
from PIL import Image

import common
import fcn_proto
import palette


def read_db(path: Path) -> tuple[dict | None, list[str], dict[str, object]]:
    """(meta or None, sample keys in order, key -> Datum) of the database at ``path``."""
    datum_type = fcn_proto.load().Datum
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            items = [(bytes(k), bytes(v)) for k, v in txn.cursor()]
    finally:
        env.close()
    meta = None
    keys: list[str] = []
    datums: dict[str, object] = {}
    for key, value in items:
        if key == b"~meta":
            meta = json.loads(value.decode("utf-8"))
            continue
        datum = datum_type()
        datum.ParseFromString(value)
        keys.append(key.decode("ascii"))
        datums[key.decode("ascii")] = datum
    assert [k.encode() for k in keys] == sorted(k.encode() for k in keys)
    return meta, keys, datums


def decode_rgb(datum) -> np.ndarray:
    """An encoded Datum's image as HxWx3 RGB (PIL), after checking the header."""
    assert datum.encoded
    image = np.array(Image.open(io.BytesIO(datum.data)).convert("RGB"))
    assert (datum.channels, datum.height, datum.width) == (3, *image.shape[:2])
    return image


def raw_label(datum) -> np.ndarray:
    """A raw 1xHxW uint8 Datum as an HxW array."""
    assert not datum.encoded and datum.channels == 1
    assert len(datum.data) == datum.height * datum.width
    return np.frombuffer(datum.data, dtype=np.uint8).reshape(datum.height, datum.width)


def float_plane(datum) -> np.ndarray:
    """A 1xHxW float Datum as an HxW float32 array."""
    assert not datum.encoded and not datum.data and datum.channels == 1
    return np.array(datum.float_data, dtype=np.float32).reshape(datum.height, datum.width)


def run_script(main: Callable[[Sequence[str] | None], int], argv: Sequence[str]) -> int:
    """Runs a script's main through common.run (as its __main__ does) and returns the status."""
    return common.run(main, list(argv), prog="script")


def save_palette_png(path: Path, label: np.ndarray) -> None:
    """Writes ``label`` as an 8-bit palette PNG with the VOC colours."""
    image = Image.fromarray(label.astype(np.uint8), mode="P")
    image.putpalette(palette.voc_palette().flatten().tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def save_rgb(path: Path, rgb: np.ndarray, quality: int | None = None) -> None:
    """Writes an RGB image (JPEG when the suffix says so)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"quality": quality} if quality else {}
    Image.fromarray(rgb.astype(np.uint8), mode="RGB").save(path, **kwargs)


def random_rgb(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
