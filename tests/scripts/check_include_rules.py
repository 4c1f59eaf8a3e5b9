#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The library's include rules (docs/architecture.md), checked two ways.

1. From the sources: every quoted include of a private folder (``"io/hdf5.h"``) must be one the
   including component sees (src/CMakeLists.txt writes the rules into
   <build>/include_views/rules.txt); io includes no public header of the layers above it (it
   knows file formats, not nets); no library component includes the tool, the exporter or the
   MPI/NCCL communicators.
2. By the compiler: for every component, a probe that includes a header of each folder the
   component may not see is compiled with the component's own flags (from
   compile_commands.json) and must fail, and a probe of a folder it sees must compile.

Usage: check_include_rules.py --source-dir DIR --build-dir DIR [--no-probe]
Prints one line per violation (file:line: what) and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# The src/ folders that hold a component's private headers.
PRIVATE_FOLDERS = ("core", "io", "math", "backend", "layers", "solver", "export", "parallel", "tools")

# Public headers that io may include: its own and the base below it.
IO_PUBLIC = {
    "fcn/common.h", "fcn/options.h", "fcn/io.h", "fcn/net_paths.h", "fcn/lmdb_db.h",
    "fcn/image_codec.h", "fcn/label_image.h", "fcn/proto/fcn.pb.h",
}
# Public headers of the components on top; only their owner (and the tool) includes them.
TOP_PUBLIC = {
    "fcn/onnx_export.h": "fcn_onnx",
    "fcn/mpi_communicator.h": "fcn_parallel",
    "fcn/nccl_communicator.h": "fcn_parallel",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


@dataclass
class Component:
    name: str
    sees: list[str]
    sources: list[Path] = field(default_factory=list)
    command: dict | None = None  # one compile_commands.json entry of the component


def read_rules(build_dir: Path) -> dict[str, Component]:
    rules = build_dir / "include_views" / "rules.txt"
    components = {}
    for line in rules.read_text().splitlines():
        if not line.strip():
            continue
        name, sees = line.split("=", 1)
        components[name] = Component(name, [s for s in sees.split(",") if s])
    return components


def view_of(command: str) -> str | None:
    m = re.search(r"include_views/([A-Za-z0-9_]+)", command)
    return m.group(1) if m else None


def attach_sources(components: dict[str, Component], source_dir: Path, build_dir: Path) -> None:
    """Sources from compile_commands.json, and the private headers of each component's folders."""
    for entry in json.loads((build_dir / "compile_commands.json").read_text()):
        command = entry.get("command") or shlex.join(entry["arguments"])
        name = view_of(command)
        if name in components:
            c = components[name]
            c.sources.append(Path(entry["file"]))
            if c.command is None and entry["file"].endswith(".cpp"):
                c.command = entry
    # A header belongs to the component whose folder it sits in (the first that sees the folder
    # as its own: the component's first SEES entry).
    for c in components.values():
        own = source_dir / "src" / c.sees[0]
        c.sources.extend(sorted(own.rglob("*.h")) + sorted(own.rglob("*.cuh")))


def scan(component: Component, files: list[Path] | None = None) -> list[str]:
    """The source-level violations of one component, as 'file:line: message'."""
    problems = []
    for path in files if files is not None else component.sources:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError as e:
            problems.append(f"{path}: cannot read: {e}")
            continue
        for number, text in enumerate(lines, 1):
            m = INCLUDE.match(text)
            if not m:
                continue
            header = m.group(1)
            folder = header.split("/", 1)[0]
            where = f"{path}:{number}"
            if folder in PRIVATE_FOLDERS and "/" in header and folder not in component.sees:
                problems.append(f"{where}: {component.name} includes \"{header}\", a private "
                                f"header of src/{folder}/ (it may use: {', '.join(component.sees)})")
            if component.name == "fcn_io" and header.startswith("fcn/") and header not in IO_PUBLIC \
                    and header not in TOP_PUBLIC:
                problems.append(f"{where}: fcn_io includes \"{header}\": io knows file formats, "
                                "not nets or layers")
            owner = TOP_PUBLIC.get(header)
            if owner and component.name not in (owner, "fcntool"):
                problems.append(f"{where}: {component.name} includes \"{header}\" of {owner}, "
                                "which sits above the library")
    return problems


def probe_command(entry: dict, probe: Path) -> list[str]:
    """The component's compile command, turned into a syntax-only compile of `probe`."""
    args = entry.get("arguments") or shlex.split(entry["command"])
    # Drop a launcher (ccache, `cmake -E env ...`) in front of the compiler.
    start = next(i for i, a in enumerate(args) if re.search(r"(c\+\+|g\+\+|clang\+\+)(-[0-9.]+)?$", a))
    out, skip = [], False
    for a in args[start:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MT", "-MF", "-c"):
            skip = True
            continue
        if a in ("-MD", "-MMD") or a == entry["file"]:
            continue
        out.append(a)
    return out + ["-fsyntax-only", "-x", "c++", str(probe)]


def first_header(source_dir: Path, folder: str) -> str | None:
    # A header of the folder itself (not of a sub-folder such as backend/cuda, whose headers
    # need the CUDA toolkit's).
    folder_dir = source_dir / "src" / folder
    headers = sorted(folder_dir.glob("*.h")) or sorted(folder_dir.rglob("*.h"))
    return str(headers[0].relative_to(source_dir / "src")) if headers else None


def probe(components: dict[str, Component], source_dir: Path) -> list[str]:
    """Compiles, with each component's flags, an include of each folder: those it does not see
    must fail to be found, those it sees must compile."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in components.values():
            if c.command is None:
                problems.append(f"{c.name}: no compile command in compile_commands.json")
                continue
            for folder in PRIVATE_FOLDERS:
                header = first_header(source_dir, folder)
                if header is None:
                    continue
                p = Path(tmp) / f"{c.name}_{folder}.cpp"
                p.write_text(f'#include "{header}"\n')
                r = subprocess.run(probe_command(c.command, p), cwd=c.command["directory"],
                                   capture_output=True, text=True)
                visible = folder in c.sees
                if visible and r.returncode != 0:
                    problems.append(f"{c.name}: \"{header}\" should compile and does not:\n{r.stderr[-800:]}")
                if not visible and r.returncode == 0:
                    problems.append(f"{c.name}: \"{header}\" compiled, but {c.name} may not see "
                                    f"src/{folder}/ (its view: {', '.join(c.sees)})")
                if not visible and r.returncode != 0 and "No such file" not in r.stderr:
                    problems.append(f"{c.name}: the probe of \"{header}\" failed for another reason:\n"
                                    f"{r.stderr[-800:]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source-dir", type=Path, required=True)
    ap.add_argument("--build-dir", type=Path, required=True)
    ap.add_argument("--no-probe", action="store_true", help="only the source scan")
    a = ap.parse_args(argv)
    components = read_rules(a.build_dir)
    attach_sources(components, a.source_dir.resolve(), a.build_dir)
    problems = []
    for c in components.values():
        problems += scan(c)
    if not a.no_probe:
        problems += probe(components, a.source_dir.resolve())
    for p in problems:
        print(p)
    counted = sum(len(c.sources) for c in components.values())
    print(f"include rules: {len(components)} components, {counted} files, "
          f"{len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
