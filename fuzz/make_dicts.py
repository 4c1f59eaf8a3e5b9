#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes the libFuzzer dictionaries fuzz/*.dict from the project's own sources: the field
names and enum values of proto/fcn.proto, the layer types the layers register, the record
format of the segmentation databases, and the HDF5 snapshot names. Run from the repository
root: python3 fuzz/make_dicts.py (the .dict files are committed; rerun after a proto change)."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO = (ROOT / "proto/fcn.proto").read_text()
FIELDS = sorted(set(re.findall(r"^\s*(?:optional|repeated|required)\s+\S+\s+(\w+)\s*=", PROTO, re.M)))
ENUMS = sorted(set(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*=\s*\d+;", PROTO, re.M)))
TYPES = sorted(set(
    t for f in (ROOT / "src/layers").glob("*.cpp")
    for t in re.findall(r'LayerSchema schema\{\s*"(\w+)"', f.read_text())))
# The names of fuzz_util's small net, which the weights and states refer to.
SMALL = ["data", "label", "conv1", "relu1", "pool1", "score", "upscore", "crop", "scale", "ip",
         "silence", "loss", "train", "test_0"]


def quote(s):
    out = []
    for b in s.encode("latin-1"):
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\x%02X" % b)
    return '"' + "".join(out) + '"'


def write(name, comment, entries):
    seen, lines = set(), ["# " + line for line in comment.splitlines()]
    lines.append("# Written by fuzz/make_dicts.py; do not edit by hand.")
    for e in entries:
        if e not in seen:
            seen.add(e)
            lines.append(quote(e))
    (ROOT / "fuzz" / f"{name}.dict").write_text("\n".join(lines) + "\n")
    print(f"fuzz/{name}.dict: {len(seen)} entries")


def varint_key(number, wire):
    key, out = (number << 3) | wire, b""
    while True:
        byte = key & 0x7F
        key >>= 7
        out += bytes([byte | (0x80 if key else 0)])
        if not key:
            return out.decode("latin-1")


# Binary protobuf: the tags (field number + wire type) of the messages of weights and states.
TAGS = [varint_key(n, w) for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 1000, 10000, 10001, 10002)
        for w in (0, 2, 5)]

write("prototxt", "fuzz_prototxt: fcn.proto's field names and enum values, the layer types,\n"
      "and the text format's punctuation.",
      FIELDS + [f + ":" for f in FIELDS] + [f + " {" for f in FIELDS] + ENUMS +
      ['"%s"' % t for t in TYPES] + ["{", "}", ":", '"', "#", "layer {", "bottom: ", "top: ",
                                      "-1", "0", "2147483647", "4294967296", "1e38", "nan", "inf"])
write("caffemodel", "fuzz_caffemodel: protobuf tags of NetParameter / LayerParameter / BlobProto,\n"
      "the small net's layer names and types, and the HDF5 signature.",
      TAGS + SMALL + TYPES + ["\x89HDF\r\n\x1a\n", "\x00\x00\x80\x7f", "\xff\xff\xff\xff\x0f"])
write("solverstate", "fuzz_solverstate: protobuf tags of SolverState and BlobProto, the weight\n"
      "files beside the state, the layer-state names, and the HDF5 signature.",
      TAGS + SMALL + ["in.caffemodel", "in.caffemodel.h5", "../in.caffemodel", "fcn-data-state 1",
                      "kind", "records", "position", "\x89HDF\r\n\x1a\n", "\x00\x00\xc0\x7f"])
write("hdf5", "fuzz_hdf5: HDF5 signatures and object names of Caffe's snapshot files.",
      ["\x89HDF\r\n\x1a\n", "OHDR", "OCHK", "TREE", "HEAP", "GCOL", "SNOD", "BTHD", "BTIN", "BTLF",
       "FRHP", "FHDB", "FHIB", "FSHD", "FSSE", "data", "diff", "history", "iter", "learned_net",
       "current_step", "fcn_state", "0", "1", "2"] + SMALL)
write("lmdb_record", "fuzz_lmdb_record: Datum tags, the ~meta JSON of the segmentation\n"
      "databases (src/layers/data.h), and image signatures.",
      TAGS + ['"format"', '"fcn-seg-1"', '"count"', '"fields"', '"data"', '"label"', '"sem"',
              '"geo"', '"hha"', '"color"', "{", "}", "[", "]", ":", ",", "null", "true", "1e308",
              "-1", "\x89PNG\r\n\x1a\n", "\xff\xd8\xff", "IHDR", "IDAT", "IEND"])
write("image", "fuzz_image: PNG chunk names and JPEG markers, and the signatures of the\n"
      "other formats OpenCV's imdecode recognises.",
      ["\x89PNG\r\n\x1a\n", "IHDR", "IDAT", "IEND", "PLTE", "tRNS", "gAMA", "sBIT", "iCCP", "zTXt",
       "\xff\xd8\xff", "\xff\xd8", "\xff\xd9", "\xff\xc0", "\xff\xc2", "\xff\xc4", "\xff\xda",
       "\xff\xdb", "\xff\xdd", "\xff\xe0", "\xff\xe1", "JFIF\x00", "Exif\x00\x00", "BM", "P5", "P6",
       "\x00\x00\x80\x00", "\xff\xff", "\x00\x00"])
