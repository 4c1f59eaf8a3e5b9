# SPDX-License-Identifier: BSD-2-Clause
"""tests/scripts/check_include_rules.py on this build tree, and that it fails when it must."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_include_rules as rules  # noqa: E402

SOURCE = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("FCN_BUILD_DIR", SOURCE / "build"))

needs_build = pytest.mark.skipif(not (BUILD / "include_views" / "rules.txt").exists(),
                                 reason=f"no configured build tree at {BUILD} (set FCN_BUILD_DIR)")


@needs_build
def test_the_tree_follows_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert rules.main(["--source-dir", str(SOURCE), "--build-dir", str(BUILD)]) == 0
    out = capsys.readouterr().out
    assert "0 violation(s)" in out


@needs_build
def test_every_library_folder_has_a_component() -> None:
    components = rules.read_rules(BUILD)
    assert {"fcn_math", "fcn_io", "fcn_core", "fcn_layers", "fcn_solver", "fcntool"} <= set(components)
    assert components["fcn_io"].sees == ["io"]
    library = [c for n, c in components.items() if n not in ("fcntool", "fcn_tool_util")]
    assert "tools" not in sum((c.sees for c in library), [])


def test_a_private_include_is_named_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cpp"
    bad.write_text('#include "fcn/io.h"\n#include "layers/base_conv.h"\n#include "fcn/net.h"\n'
                   '#include "tools/fcntool/commands.h"\n#include "fcn/onnx_export.h"\n')
    io = rules.Component("fcn_io", ["io"])
    problems = rules.scan(io, [bad])
    assert len(problems) == 4, problems
    assert problems[0].startswith(f"{bad}:2: fcn_io includes \"layers/base_conv.h\"")
    assert problems[1].startswith(f"{bad}:3: fcn_io includes \"fcn/net.h\"")
    assert problems[2].startswith(f"{bad}:4: fcn_io includes \"tools/fcntool/commands.h\"")
    assert problems[3].startswith(f"{bad}:5: fcn_io includes \"fcn/onnx_export.h\" of fcn_onnx")
    # The tool may use the exporter's public header; a layer may use backend's private ones.
    assert rules.scan(rules.Component("fcntool", ["tools"]), [bad])[0].startswith(f"{bad}:2:")
    ok = tmp_path / "ok.cpp"
    ok.write_text('#include "backend/host_device.h"\n#include "fcn/net.h"\n')
    assert rules.scan(rules.Component("fcn_layers", ["layers", "backend", "math"]), [ok]) == []


@needs_build
def test_a_loosened_view_is_caught_by_the_probe() -> None:
    # Claim that core may not see io: the probe of an io header then compiles with core's real
    # flags, which the check must report.
    components = rules.read_rules(BUILD)
    rules.attach_sources(components, SOURCE, BUILD)
    core = components["fcn_core"]
    core.sees = [s for s in core.sees if s != "io"]
    problems = rules.probe({"fcn_core": core}, SOURCE)
    assert any("compiled, but fcn_core may not see src/io/" in p for p in problems), problems
