#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Converts CamVid in SegNet's layout (or any "image label" list dataset) to an fcn LMDB.
"""CamVid (SegNet layout) to the fcn segmentation LMDB (fields ``data`` and ``label``).

The split list (default <root>/<split>.txt) has one "IMAGE LABEL" pair per line, paths relative
to --root. SegNet's own lists name absolute paths such as /SegNet/CamVid/train/x.png: an
absolute path that does not exist is looked up as <root>/<its folder>/<its name>.
Labels are 8-bit grayscale PNGs stored as they are: CamVid's 0..10 are classes and
11 (Unlabelled) is the ignore value, so CamVid nets use ignore_label: 11.

A <root>/dataset.json (written by make_synthetic.py) sets the defaults of --dataset, --classes,
--ignore-label and the class names.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import common

CAMVID_CLASSES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence",
                  "Car", "Pedestrian", "Bicyclist", "Unlabelled")


def resolve(root: Path, text: str) -> Path:
    """A list entry's path: relative to ``root``; a missing absolute path tried as root/dir/name."""
    path = Path(text)
    if not path.is_absolute():
        return root / path
    if path.exists():
        return path
    return root / path.parent.name / path.name


def read_pairs(list_path: Path, root: Path) -> list[tuple[str, Path, Path]]:
    """(sample id, image path, label path) for each line of the list."""
    pairs = []
    for number, line in enumerate(common.read_list(list_path), start=1):
        parts = line.split()
        if len(parts) != 2:
            raise common.ConversionError(
                f"{list_path}: entry {number} {line!r} is not an 'IMAGE LABEL' pair")
        image, label = resolve(root, parts[0]), resolve(root, parts[1])
        pairs.append((image.stem, image, label))
    return pairs


def load_defaults(root: Path) -> dict:
    """The contents of <root>/dataset.json, or {}."""
    path = root / "dataset.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise common.ConversionError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(info, dict):
        raise common.ConversionError(f"{path}: expected a JSON object")
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_camvid.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: convert_camvid.py --root CamVid --split train --out db/camvid-train")
    common.add_common_arguments(
        parser, "list of 'IMAGE LABEL' lines (default: ROOT/SPLIT.txt)")
    parser.add_argument("--dataset", help="dataset name for the metadata (default: camvid)")
    parser.add_argument("--classes", type=int,
                        help="number of classes; labels 0..N-1 are classes (default: 11)")
    parser.add_argument("--ignore-label", type=int,
                        help="the label value that marks ignored pixels (default: 11)")
    args = parser.parse_args(argv)
    root: Path = args.root
    if not root.is_dir():
        raise common.ConversionError(f"{root}: dataset folder not found")
    defaults = load_defaults(root)
    dataset = args.dataset or defaults.get("dataset", "camvid")
    classes = args.classes if args.classes is not None else int(defaults.get("classes", 11))
    ignore = args.ignore_label if args.ignore_label is not None else int(
        defaults.get("ignore_label", 11))
    names = tuple(defaults.get("class_names", CAMVID_CLASSES if dataset == "camvid" else ()))
    if not 1 <= classes <= 256 or not 0 <= ignore <= 255:
        raise common.ConversionError(
            f"--classes {classes} / --ignore-label {ignore}: expected 1..256 and 0..255")
    spec = common.LabelSpec(classes=classes, ignore_label=ignore, names=names)
    list_path = args.list or root / f"{args.split}.txt"
    pairs = read_pairs(list_path, root)
    by_id = {}
    for sample_id, image_path, label_path in pairs:
        if sample_id in by_id:
            raise common.ConversionError(
                f"{list_path}: image name '{sample_id}' appears twice ({by_id[sample_id][0]} and "
                f"{image_path})")
        by_id[sample_id] = (image_path, label_path)

    def load(sample_id: str) -> common.Sample:
        image_path, label_path = by_id[sample_id]
        context = f"sample '{sample_id}' of {list_path}"
        common.require_file(image_path, "image", context)
        common.require_file(label_path, "label", context)
        image, hw = common.image_datum_from_file(image_path, context)
        label = common.read_index_png(label_path, context)
        common.check_same_size(label, label_path, hw, image_path)
        common.check_label_values(label, label_path, spec.classes, spec.ignore_label)
        return common.Sample(datums={"data": image, "label": common.label_datum(label)},
                             labels={"label": label}, sizes={"data": hw})

    common.convert(out=args.out, force=args.force, dataset=dataset, split=args.split,
                   fields=("data", "label"), ids=[p[0] for p in pairs], load=load,
                   specs={"label": spec})
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
