#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Converts SIFT Flow (images, semantic and geometric .mat labels) to an fcn LMDB.
"""SIFT Flow to the fcn segmentation LMDB (fields ``data``, ``sem``, ``geo``).

Layout under --root (the FCN reference's siftflow folder), with
D = spatial_envelope_256x256_static_8outdoorcategories:
  Images/D/<id>.jpg          256x256 colour (stored byte for byte)
  SemanticLabels/D/<id>.mat  variable S: 0 void, 1..33 classes -> stored S - 1 in uint8:
                             classes 0..32, void 255
  GeoLabels/D/<id>.mat       variable S: -1 and 0 void, 1 sky, 2 horizontal, 3 vertical ->
                             -1 becomes 0, then S - 1 in uint8: 0..2, void 255
The split list is <root>/<split>.txt (trainval, test) unless --list is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

import common

SUBDIR = "spatial_envelope_256x256_static_8outdoorcategories"
SEM_CLASSES = ("awning", "balcony", "bird", "boat", "bridge", "building", "bus", "car", "cow",
               "crosswalk", "desert", "door", "fence", "field", "grass", "moon", "mountain",
               "person", "plant", "pole", "river", "road", "rock", "sand", "sea", "sidewalk",
               "sign", "sky", "staircase", "streetlight", "sun", "tree", "window")
GEO_CLASSES = ("sky", "horizontal", "vertical")
SPECS = {"sem": common.LabelSpec(classes=33, ignore_label=255, names=SEM_CLASSES),
         "geo": common.LabelSpec(classes=3, ignore_label=255, names=GEO_CLASSES)}


def semantic_label(path: Path, context: str) -> np.ndarray:
    """SemanticLabels S (0 void, 1..33) as uint8 S - 1 (void 255)."""
    raw = common.mat_variable(common.load_mat(path, context), "S", path)
    common.check_label_values(raw, path, classes=34, ignore_label=None)
    return (raw.astype(np.uint8) - np.uint8(1)).astype(np.uint8)


def geometric_label(path: Path, context: str) -> np.ndarray:
    """GeoLabels S (-1/0 void, 1..3) as uint8: -1 -> 0, then S - 1 (void 255)."""
    raw = common.mat_variable(common.load_mat(path, context), "S", path).astype(np.int64)
    raw[raw == -1] = 0
    common.check_label_values(raw, path, classes=4, ignore_label=None)
    return (raw.astype(np.uint8) - np.uint8(1)).astype(np.uint8)


def make_loader(root: Path, list_path: Path):
    """Returns load(id) producing data, sem and geo."""

    def load(sample_id: str) -> common.Sample:
        context = f"sample '{sample_id}' of {list_path}"
        image_path = root / "Images" / SUBDIR / f"{sample_id}.jpg"
        sem_path = root / "SemanticLabels" / SUBDIR / f"{sample_id}.mat"
        geo_path = root / "GeoLabels" / SUBDIR / f"{sample_id}.mat"
        for path, what in ((image_path, "image"), (sem_path, "semantic label"),
                           (geo_path, "geometric label")):
            common.require_file(path, what, context)
        image, hw = common.image_datum_from_file(image_path, context)
        sem = semantic_label(sem_path, context)
        geo = geometric_label(geo_path, context)
        common.check_same_size(sem, sem_path, hw, image_path, what="semantic label")
        common.check_same_size(geo, geo_path, hw, image_path, what="geometric label")
        return common.Sample(
            datums={"data": image, "sem": common.label_datum(sem), "geo": common.label_datum(geo)},
            labels={"sem": sem, "geo": geo}, sizes={"data": hw})

    return load


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_siftflow.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: convert_siftflow.py --root siftflow --split trainval "
               "--out db/siftflow-trainval")
    common.add_common_arguments(parser, "split list, one id per line (default: ROOT/SPLIT.txt)")
    args = parser.parse_args(argv)
    root: Path = args.root
    if not root.is_dir():
        raise common.ConversionError(f"{root}: dataset folder not found")
    list_path = args.list or root / f"{args.split}.txt"
    ids = common.read_list(list_path)
    common.convert(out=args.out, force=args.force, dataset="siftflow", split=args.split,
                   fields=("data", "sem", "geo"), ids=ids, load=make_loader(root, list_path),
                   specs=SPECS)
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
