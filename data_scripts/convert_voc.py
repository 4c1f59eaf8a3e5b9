#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Converts PASCAL VOC (year folder) or SBD (dataset folder) segmentation data to an fcn LMDB.
"""PASCAL VOC / SBD to the fcn segmentation LMDB (fields ``data`` and ``label``).

Two layouts are recognised under --root:
  * a VOC year folder (VOCdevkit/VOC2012, VOC2011): JPEGImages/<id>.jpg and
    SegmentationClass/<id>.png (palette PNG, indices 0..20, 255 void); the split list is
    ImageSets/Segmentation/<split>.txt unless --list is given (seg11valid needs --list);
  * an SBD ``dataset`` folder (benchmark_RELEASE/dataset): img/<id>.jpg and cls/<id>.mat
    (GTcls.Segmentation, indices 0..20); the split list is <root>/<split>.txt (an optional
    "sbd-" prefix of the split name is dropped: sbd-train reads train.txt).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

import common

VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
               "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor")
LABEL_SPEC = common.LabelSpec(classes=21, ignore_label=255, names=VOC_CLASSES)


def is_sbd(root: Path) -> bool:
    """True when ``root`` has SBD's img/ and cls/ folders."""
    return (root / "img").is_dir() and (root / "cls").is_dir()


def default_list(root: Path, split: str) -> Path:
    """The split list a layout ships: SBD <root>/<split>.txt, VOC ImageSets/Segmentation."""
    if is_sbd(root):
        name = split[len("sbd-"):] if split.startswith("sbd-") else split
        return root / f"{name}.txt"
    return root / "ImageSets" / "Segmentation" / f"{split}.txt"


def sbd_segmentation(path: Path, context: str) -> np.ndarray:
    """GTcls.Segmentation of an SBD cls/<id>.mat file."""
    mat = common.load_mat(path, context)
    if "GTcls" not in mat:
        raise common.ConversionError(f"{path}: no variable 'GTcls' (not an SBD cls file)")
    gt = mat["GTcls"]
    names = gt.dtype.names or ()
    if "Segmentation" not in names:
        raise common.ConversionError(f"{path}: GTcls has no field 'Segmentation'")
    segmentation = np.asarray(np.asarray(gt["Segmentation"]).ravel()[0])
    if segmentation.ndim != 2:
        raise common.ConversionError(
            f"{path}: GTcls.Segmentation has shape {segmentation.shape}; expected HxW")
    if segmentation.min() < 0 or segmentation.max() > 255:
        raise common.ConversionError(
            f"{path}: GTcls.Segmentation holds values {segmentation.min()}..{segmentation.max()}"
            ", outside 0..255")
    return segmentation.astype(np.uint8)


def make_loader(root: Path, list_path: Path):
    """Returns load(id) for the layout found under ``root``."""
    sbd = is_sbd(root)

    def load(sample_id: str) -> common.Sample:
        context = f"sample '{sample_id}' of {list_path}"
        if sbd:
            image_path = root / "img" / f"{sample_id}.jpg"
            label_path = root / "cls" / f"{sample_id}.mat"
        else:
            image_path = root / "JPEGImages" / f"{sample_id}.jpg"
            label_path = root / "SegmentationClass" / f"{sample_id}.png"
        common.require_file(image_path, "image", context)
        common.require_file(label_path, "label", context)
        image, hw = common.image_datum_from_file(image_path, context)
        if sbd:
            label = sbd_segmentation(label_path, context)
        else:
            label = common.read_index_png(label_path, context)
        common.check_same_size(label, label_path, hw, image_path)
        common.check_label_values(label, label_path, LABEL_SPEC.classes, LABEL_SPEC.ignore_label)
        return common.Sample(datums={"data": image, "label": common.label_datum(label)},
                             labels={"label": label}, sizes={"data": hw})

    return load


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_voc.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: convert_voc.py --root VOCdevkit/VOC2011 --split seg11valid "
               "--list seg11valid.txt --out db/voc-seg11valid")
    common.add_common_arguments(
        parser, "split list, one image id per line (default: the list the layout ships)")
    args = parser.parse_args(argv)
    root: Path = args.root
    if not root.is_dir():
        raise common.ConversionError(f"{root}: dataset folder not found")
    if not is_sbd(root) and not (root / "JPEGImages").is_dir():
        raise common.ConversionError(
            f"{root}: neither a VOC year folder (JPEGImages/, SegmentationClass/) nor an SBD "
            "dataset folder (img/, cls/)")
    list_path = args.list or default_list(root, args.split)
    if args.list is None and not list_path.is_file():
        raise common.ConversionError(
            f"{list_path}: split list not found; pass --list FILE (seg11valid: the FCN "
            "reference's data/pascal/seg11valid.txt)")
    ids = common.read_list(list_path)
    common.convert(out=args.out, force=args.force, dataset="voc",
                   split=args.split, fields=("data", "label"), ids=ids,
                   load=make_loader(root, list_path), specs={"label": LABEL_SPEC})
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
