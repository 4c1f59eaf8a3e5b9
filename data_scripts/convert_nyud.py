#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Converts NYUDv2 (the FCN reference's layout: colour, HHA, depth, 40-class labels) to an fcn LMDB.
"""NYUDv2 (40 classes) to the fcn segmentation LMDB.

Layout under --root (the FCN reference's nyud folder, after Gupta et al.'s data):
  data/images/img_<id>.png   colour (stored byte for byte; decodes to BGR as in Caffe)
  data/hha/img_<id>.png      HHA, stored channel-reversed so that an OpenCV (BGR) decode yields
                             the file's channel order, which the reference feeds to the net
  data/depth/img_<id>.png    16-bit depth; stored as float ln(d) (the Data layer subtracts
                             the mean 7.844); pixels with d = 0 get 7.844 (0 after the mean)
  segmentation/img_<id>.mat  variable 'segmentation': 0 void, 1..40 classes; stored as
                             value - 1 in uint8, i.e. classes 0..39 and void 255
The split list is <root>/<split>.txt (train, val, trainval, test) unless --list is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

import common

NYUD_CLASSES = ("wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window",
                "bookshelf", "picture", "counter", "blinds", "desk", "shelves", "curtain",
                "dresser", "pillow", "mirror", "floor mat", "clothes", "ceiling", "books",
                "refridgerator", "television", "paper", "towel", "shower curtain", "box",
                "whiteboard", "person", "night stand", "toilet", "sink", "lamp", "bathtub", "bag",
                "otherstructure", "otherfurniture", "otherprop")
LABEL_SPEC = common.LabelSpec(classes=40, ignore_label=255, names=NYUD_CLASSES)
ALL_FIELDS = ("color", "hha", "depth", "label")
LOG_DEPTH_MEAN = 7.844
DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I")


def read_depth(path: Path, context: str) -> tuple[np.ndarray, int]:
    """ln(d) of a 16-bit depth PNG as float32, and the number of d = 0 pixels (set to the mean)."""
    image = common.open_image(path, context)
    if image.mode not in DEPTH_MODES:
        raise common.ConversionError(
            f"{path}: depth image has mode {image.mode}; expected a 16-bit grayscale PNG")
    depth = np.array(image, dtype=np.float32)
    missing = depth <= 0
    log_depth = np.full(depth.shape, LOG_DEPTH_MEAN, dtype=np.float32)
    np.log(depth, out=log_depth, where=~missing)
    return log_depth, int(missing.sum())


def read_label(path: Path, context: str) -> np.ndarray:
    """The 40-class label of segmentation/img_<id>.mat, shifted: value - 1, void 0 -> 255."""
    raw = common.mat_variable(common.load_mat(path, context), "segmentation", path)
    common.check_label_values(raw, path, classes=41, ignore_label=None)
    return (raw.astype(np.uint8) - np.uint8(1)).astype(np.uint8)


def make_loader(root: Path, list_path: Path, fields: Sequence[str], zero_depth: list[int]):
    """Returns load(id) producing ``fields``; counts d = 0 depth pixels into ``zero_depth``."""

    def load(sample_id: str) -> common.Sample:
        context = f"sample '{sample_id}' of {list_path}"
        name = f"img_{sample_id}"
        paths = {"color": root / "data" / "images" / f"{name}.png",
                 "hha": root / "data" / "hha" / f"{name}.png",
                 "depth": root / "data" / "depth" / f"{name}.png",
                 "label": root / "segmentation" / f"{name}.mat"}
        for field in fields:
            common.require_file(paths[field], field, context)
        sample = common.Sample(datums={})
        reference_field = fields[0]
        reference_hw: tuple[int, int] | None = None

        def check(array: np.ndarray, field: str) -> None:
            nonlocal reference_hw
            if reference_hw is None:
                reference_hw = array.shape[:2]
            else:
                common.check_same_size(array, paths[field], reference_hw, paths[reference_field],
                                       what=field)
            sample.sizes[field] = array.shape[:2]

        for field in fields:
            if field == "color":
                datum, hw = common.image_datum_from_file(paths[field], context)
                check(np.empty(hw), field)
                sample.datums[field] = datum
            elif field == "hha":
                hha = np.array(common.open_image(paths[field], context).convert("RGB"))
                check(hha, field)
                sample.datums[field] = common.image_datum_from_array(hha[:, :, ::-1])
            elif field == "depth":
                log_depth, zeros = read_depth(paths[field], context)
                check(log_depth, field)
                zero_depth[0] += zeros
                sample.datums[field] = common.float_datum(log_depth)
            else:
                label = read_label(paths[field], context)
                check(label, field)
                sample.datums[field] = common.label_datum(label)
                sample.labels[field] = label
        return sample

    return load


def parse_fields(text: str) -> tuple[str, ...]:
    """Parses --fields: a comma list, kept in the canonical order color, hha, depth, label."""
    chosen = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in ALL_FIELDS]
    if unknown or not chosen:
        raise common.ConversionError(
            f"--fields {text!r}: unknown field(s) {', '.join(unknown)}; choose from "
            f"{', '.join(ALL_FIELDS)}")
    return tuple(f for f in ALL_FIELDS if f in chosen)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_nyud.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: convert_nyud.py --root nyud --split trainval --out db/nyud-trainval")
    common.add_common_arguments(parser, "split list, one id per line (default: ROOT/SPLIT.txt)")
    parser.add_argument("--fields", default=",".join(ALL_FIELDS),
                        help="comma list of fields to store (default: %(default)s)")
    args = parser.parse_args(argv)
    root: Path = args.root
    if not root.is_dir():
        raise common.ConversionError(f"{root}: dataset folder not found")
    fields = parse_fields(args.fields)
    list_path = args.list or root / f"{args.split}.txt"
    ids = common.read_list(list_path)
    zero_depth = [0]
    common.convert(out=args.out, force=args.force, dataset="nyud", split=args.split,
                   fields=fields, ids=ids, load=make_loader(root, list_path, fields, zero_depth),
                   specs={"label": LABEL_SPEC})
    if zero_depth[0]:
        print(f"  depth: {zero_depth[0]} pixels had depth 0 (no reading); stored as "
              f"{LOG_DEPTH_MEAN} (the log-depth mean) instead of ln(0)")
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
