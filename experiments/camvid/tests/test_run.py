# SPDX-License-Identifier: BSD-2-Clause
"""experiments/camvid/run.py without training: the bf16 report against the fp32 run (its
table, its verdict, the JSON and the markers of results.md), and the guards against mixing
runs."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

RUN_PY = Path(__file__).resolve().parents[1] / "run.py"


def load_run():
    spec = importlib.util.spec_from_file_location("camvid_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules["camvid_run"] = module
    spec.loader.exec_module(module)
    return module


run = load_run()


def metrics(mean_iu: float) -> dict:
    return {"heads": [{"pixel_acc": 0.7, "mean_acc": 0.5, "mean_iu": mean_iu, "fwavacc": 0.6}]}


def fp32_doc(seeds: list[int], fcn8s: list[float]) -> dict:
    doc = {"seeds": seeds}
    for arm, values in (("fcn32s", [0.2] * len(seeds)), ("fcn16s", [0.35] * len(seeds)),
                        ("fcn8s", fcn8s), ("fcn32s_control", [0.38] * len(seeds))):
        doc[arm] = {m: list(values) for m in run.METRICS}
    return doc


def write_bf16_run(out: Path, seeds: list[int], fcn8s: list[float]) -> None:
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(
        {"budget": 1500, "seeds": seeds, "precision": "bf16", "arms": list(run.CHAIN)}))
    for seed, value in zip(seeds, fcn8s):
        for arm, v in (("fcn32s", 0.21), ("fcn16s", 0.34), ("fcn8s", value)):
            d = out / f"seed{seed}" / f"score-{arm}"
            d.mkdir(parents=True)
            (d / "metrics.json").write_text(json.dumps(metrics(v)))


def test_precision_table_pairs_seeds_and_judges_the_mean_against_the_fp32_range() -> None:
    fp32 = fp32_doc([1, 2, 3], [0.40, 0.45, 0.38])
    bf16 = {"fcn8s": {"mean_iu": [0.41, 0.42, 0.36]}, "fcn32s": {"mean_iu": [0.1, 0.1, 0.1]}}
    table, verdict = run.precision_table(fp32, bf16, [1, 2, 3])
    rows = table.splitlines()
    assert rows[0].startswith("| net | fp32 mean IU | bf16 mean IU |")
    fcn8s = next(r for r in rows if r.startswith("| FCN-8s |"))
    # fp32 mean 41.0 (38.0-45.0); bf16 39.7 +- 3.0; paired differences +1.0 / -3.0 / -2.0.
    assert "| 41.0 (38.0-45.0) | 39.7 ± 3.0 | 41.0 / 42.0 / 36.0 | +1.0 / -3.0 / -2.0 (mean -1.3) | yes |" in fcn8s
    assert verdict["fcn8s"]["within"] is True
    assert verdict["fcn8s"]["fp32_range"] == pytest.approx([38.0, 45.0])
    # FCN-32s at 10.0 is below the fp32 seeds' 20.0: not within.
    assert verdict["fcn32s"]["within"] is False
    assert next(r for r in rows if r.startswith("| FCN-32s |")).endswith("| no |")
    assert "fcn16s" not in verdict  # arms the bf16 run lacks are left out


def test_precision_table_refuses_runs_with_other_seeds() -> None:
    with pytest.raises(ValueError, match=r"seeds \[1, 2\], the bf16 run \[1, 3\]"):
        run.precision_table(fp32_doc([1, 2], [0.4, 0.4]), {"fcn8s": {"mean_iu": [0.4, 0.4]}},
                            [1, 3])


def test_bf16_report_writes_its_json_and_table_and_keeps_the_fp32_table(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "results").mkdir(parents=True)
    (docs / "results" / "camvid.json").write_text(json.dumps(fp32_doc([1, 2], [0.40, 0.44])))
    fp32_table = f"{run.MARK_BEGIN}\n| the fp32 table |\n{run.MARK_END}\n"
    (docs / "results.md").write_text("# Results\n\n" + fp32_table + "\nprose\n")
    out = tmp_path / "out"
    write_bf16_run(out, [1, 2], [0.43, 0.50])
    run.main(["report", "--out", str(out), "--docs", str(docs)])
    doc = json.loads((docs / "results" / "camvid-bf16.json").read_text())
    assert doc["precision"] == "bf16" and doc["seeds"] == [1, 2]
    assert doc["fcn8s"]["mean_iu"] == [0.43, 0.50]
    assert doc["against_fp32"]["fcn8s"]["within"] is False  # 46.5 is above 44.0
    text = (docs / "results.md").read_text()
    assert fp32_table in text and "prose" in text
    begin, end = text.index(run.MARK_BF16_BEGIN), text.index(run.MARK_BF16_END)
    assert "| FCN-8s | 42.0 (40.0-44.0) | 46.5 ± 3.5 |" in text[begin:end]
    # A second report replaces the table between the markers rather than adding one.
    run.main(["report", "--out", str(out), "--docs", str(docs)])
    assert (docs / "results.md").read_text().count(run.MARK_BF16_BEGIN) == 1


def test_train_refuses_to_resume_a_run_of_another_precision(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tool = tmp_path / "fcntool"
    fake_tool.write_text("#!/bin/sh\nexit 3\n")
    monkeypatch.setenv("FCNTOOL", str(fake_tool))
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"budget": 1500, "seeds": [1]}))  # an fp32 run
    with pytest.raises(SystemExit, match="holds a run with precision fp32, not bf16"):
        run.main(["train", "--out", str(out), "--precision", "bf16", "--seeds", "1"])


def test_fp32_report_needs_the_control_arm(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(
        {"budget": 1500, "seeds": [1], "precision": "fp32", "arms": list(run.CHAIN)}))
    with pytest.raises(SystemExit, match="--skip-control"):
        run.main(["report", "--out", str(out), "--docs", str(tmp_path)])
