#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The skip-architecture experiment of issue 7 on CamVid, from scratch, resumable.

For each seed (run in parallel, one single-threaded fcntool per seed):

  fcn32s   models/camvid-fcn32s-narrow from msra fillers (fcntool surgery --random_seed=S),
           BUDGET iterations
  fcn16s   from fcn32s (new score layer zero), BUDGET iterations
  fcn8s    from fcn16s, BUDGET iterations
  control  fcn32s continued to 3 x BUDGET iterations: the whole chain's training, without skips
           (the same run as fcn32s up to BUDGET: resumed from its snapshot, which fcntool
           resumes exactly)

then `fcntool score` on CamVid val for every arm and seed (metrics.json per arm). The seed sets
the fillers (surgery), the solver's random_seed (dropout) and the Data layer's shuffle seed.
Every stage snapshots every BUDGET/2 iterations; running the script again resumes each stage
from its newest snapshot and skips what is done. `report` writes docs/results/camvid.json, the
table of docs/results.md (between its markers) and the loss curves
(docs/results/camvid-curves.png; needs python3-matplotlib).

With --precision bf16 the same protocol trains and scores with bf16 products (fp32
accumulation; docs/precision.md), and --skip-control leaves out the control arm. `report` on such
a run writes docs/results/camvid-bf16.json and the bf16 table of docs/results.md, which sets
each arm's mean IU, seed by seed, against the fp32 run's (docs/results/camvid.json).

Usage:
  experiments/camvid/run.py train [--budget 1500] [--seeds 1 2] [--out out/camvid]
                                  [--precision fp32|bf16] [--skip-control]
  experiments/camvid/run.py report [--out out/camvid]
  experiments/camvid/run.py pictures [--out out/camvid] [--seed 1] [--count 6]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARMS = ("fcn32s", "fcn32s_control", "fcn16s", "fcn8s")
CHAIN = ("fcn32s", "fcn16s", "fcn8s")
METRICS = ("pixel_acc", "mean_acc", "mean_iu", "fwavacc")
MARK_BEGIN = "<!-- camvid-table: begin (experiments/camvid/run.py report) -->"
MARK_END = "<!-- camvid-table: end -->"
MARK_BF16_BEGIN = "<!-- camvid-bf16-table: begin (experiments/camvid/run.py report) -->"
MARK_BF16_END = "<!-- camvid-bf16-table: end -->"


def fcntool() -> Path:
    path = Path(os.environ.get("FCNTOOL", ROOT / "build" / "src" / "fcntool"))
    if not path.exists():
        sys.exit(f"error: {path} not found (build fcntool first, or set FCNTOOL)")
    return path


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def run(cmd: list[str], log_path: Path | None = None) -> None:
    env = dict(os.environ, FCN_NUM_THREADS="1", GLOG_logtostderr="1")
    if log_path is None:
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        return
    with open(log_path, "a") as out:
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def ensure_databases(camvid: Path) -> None:
    for split in ("train", "val"):
        db = ROOT / "db" / f"camvid-{split}"
        if not (db / "data.mdb").exists():
            log(f"converting CamVid {split} -> {db}")
            subprocess.run([sys.executable, str(ROOT / "data_scripts" / "convert_camvid.py"),
                            "--root", str(camvid), "--split", split, "--out", str(db),
                            "--force"], check=True, stdout=subprocess.DEVNULL)


def write_net(stride: int, phase: str, seed: int, work: Path) -> Path:
    """models/camvid-fcn<stride>s-narrow/<phase>.prototxt with absolute database paths and the
    seed's shuffle order."""
    text = (ROOT / "models" / f"camvid-fcn{stride}s-narrow" / f"{phase}.prototxt").read_text()
    text = text.replace('"../../db/', f'"{ROOT}/db/')
    text = re.sub(r"seed: \d+", f"seed: {1336 + seed}", text)
    path = work / "nets" / f"fcn{stride}s-{phase}.prototxt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_solver(stride: int, seed: int, work: Path, prefix: str, max_iter: int,
                 budget: int, test_iter: int) -> Path:
    """The generated solver with this run's nets, iterations, snapshots and seed."""
    train = write_net(stride, "train", seed, work)
    val = write_net(stride, "val", seed, work)
    values = {"train_net": f'"{train}"', "test_net": f'"{val}"', "max_iter": str(max_iter),
              "snapshot": str(budget // 2), "test_interval": str(budget // 2),
              "snapshot_prefix": f'"{work / prefix}"', "random_seed": str(seed), "test_iter": str(test_iter)}
    lines = []
    for line in (ROOT / "solvers" / f"camvid-fcn{stride}s-narrow.prototxt").read_text() \
            .splitlines():
        key = line.split(":")[0].strip()
        lines.append(f"{key}: {values[key]}" if key in values else line)
    path = work / f"solver-{prefix}.prototxt"
    path.write_text("\n".join(lines) + "\n")
    return path


def latest_state(work: Path, prefix: str) -> tuple[int, Path | None]:
    best = (0, None)
    for state in work.glob(f"{prefix}_iter_*.solverstate"):
        it = int(state.name[len(prefix) + 6:-len(".solverstate")])
        if it > best[0]:
            best = (it, state)
    return best


def train_stage(work: Path, seed: int, stride: int, prefix: str, max_iter: int,
                args: argparse.Namespace, init: list[str],
                resume_from: Path | None = None) -> Path:
    """Trains one stage to max_iter (resuming from its newest snapshot) and returns the final
    .caffemodel. `init` makes the starting weights (a surgery command) when nothing exists."""
    final = work / f"{prefix}_iter_{max_iter}.caffemodel"
    if final.exists():
        return final
    solver = write_solver(stride, seed, work, prefix, max_iter, args.budget, args.test_iter)
    it, state = latest_state(work, prefix)
    cmd = [str(fcntool()), "train", f"--solver={solver}", f"--precision={args.precision}"]
    if state is not None:
        log(f"seed {seed}: {prefix} resumes at iteration {it}")
        cmd.append(f"--snapshot={state}")
    elif resume_from is not None:
        log(f"seed {seed}: {prefix} continues from {resume_from.name}")
        cmd.append(f"--snapshot={resume_from}")
    else:
        weights = work / f"{prefix}-init.caffemodel"
        run(init + [f"--output={weights}"], work / f"{prefix}-surgery.log")
        log(f"seed {seed}: {prefix} starts ({max_iter} iterations)")
        cmd.append(f"--weights={weights}")
    start = time.time()
    run(cmd, work / f"{prefix}-train.log")
    log(f"seed {seed}: {prefix} done in {time.time() - start:.0f} s")
    return final


def score(work: Path, seed: int, arm: str, stride: int, weights: Path, precision: str) -> None:
    out = work / f"score-{arm}"
    if (out / "metrics.json").exists():
        return
    val = write_net(stride, "val", seed, work)
    run([str(fcntool()), "score", f"--model={val}", f"--weights={weights}",
         f"--output_dir={out}", f"--precision={precision}"], work / f"score-{arm}.log")


def run_seed(args: argparse.Namespace, seed: int) -> None:
    b = args.budget
    work = args.out / f"seed{seed}"
    work.mkdir(parents=True, exist_ok=True)
    tool = str(fcntool())
    models = ROOT / "models"
    w32 = train_stage(work, seed, 32, "fcn32s", b, args, [
        tool, "surgery", f"--model={models / 'camvid-fcn32s-narrow' / 'val.prototxt'}",
        f"--random_seed={seed}"])
    w16 = train_stage(work, seed, 16, "fcn16s", b, args, [
        tool, "surgery", f"--model={models / 'camvid-fcn16s-narrow' / 'val.prototxt'}",
        f"--weights={w32}"])
    w8 = train_stage(work, seed, 8, "fcn8s", b, args, [
        tool, "surgery", f"--model={models / 'camvid-fcn8s-narrow' / 'val.prototxt'}",
        f"--weights={w16}"])
    arms = [("fcn32s", 32, w32), ("fcn16s", 16, w16), ("fcn8s", 8, w8)]
    if not args.skip_control:
        wc = train_stage(work, seed, 32, "control", 3 * b, args, [],
                         resume_from=work / f"fcn32s_iter_{b}.solverstate")
        arms.append(("fcn32s_control", 32, wc))
    for arm, stride, weights in arms:
        score(work, seed, arm, stride, weights, args.precision)
    log(f"seed {seed}: scored")


def cmd_train(args: argparse.Namespace) -> None:
    fcntool()
    args.out.mkdir(parents=True, exist_ok=True)
    config_path = args.out / "config.json"
    config = {"budget": args.budget, "seeds": args.seeds, "precision": args.precision,
              "arms": list(CHAIN if args.skip_control else ARMS)}
    if config_path.exists():
        # A second `train` resumes: it must be the same experiment (seeds may be added).
        old = json.loads(config_path.read_text())
        for key in ("budget", "precision"):
            before = old.get(key, "fp32" if key == "precision" else None)
            if before != config[key]:
                sys.exit(f"error: {config_path} holds a run with {key} {before}, not "
                         f"{config[key]}: use another --out")
    ensure_databases(args.camvid)
    config_path.write_text(json.dumps(config, indent=1) + "\n")
    start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in [pool.submit(run_seed, args, s) for s in args.seeds]:
            future.result()
    log(f"all seeds done in {time.time() - start:.0f} s")


# ---------------------------------------------------------------------------------------------
# Report.

def read_losses(path: Path) -> list[tuple[int, float]]:
    points = []
    pattern = re.compile(r"Iteration (\d+) \(.*\), loss = ([0-9.eE+-]+|nan)")
    for line in path.read_text().splitlines() if path.exists() else []:
        m = pattern.search(line)
        if m:
            points.append((int(m.group(1)), float(m.group(2))))
    return points


def read_val(path: Path) -> list[tuple[int, float]]:
    """(iteration, val mean IU) of the test passes in a training log."""
    points, iteration = [], None
    for line in path.read_text().splitlines() if path.exists() else []:
        m = re.search(r"Iteration (\d+), Testing net", line)
        if m:
            iteration = int(m.group(1))
        m = re.search(r"Test net metrics #0: .*mean_iu = ([0-9.eE+-]+)", line)
        if m and iteration is not None:
            points.append((iteration, float(m.group(1))))
    return points


def val_curves(work: Path, budget: int) -> dict[str, list[tuple[int, float]]]:
    """Val mean IU per arm against the total iterations since the msra start."""
    c32 = read_val(work / "fcn32s-train.log")
    return {"fcn32s": c32,
            "fcn32s_control": c32 + [p for p in read_val(work / "control-train.log")
                                     if p[0] > budget],
            "fcn16s": [(i + budget, v) for i, v in read_val(work / "fcn16s-train.log")],
            "fcn8s": [(i + 2 * budget, v) for i, v in read_val(work / "fcn8s-train.log")]}


def curves(work: Path, budget: int) -> dict[str, list[tuple[int, float]]]:
    """Training loss per arm against the total iterations trained since the msra start."""
    c32 = read_losses(work / "fcn32s-train.log")
    control = [p for p in c32] + [p for p in read_losses(work / "control-train.log")
                                  if p[0] > budget]
    return {"fcn32s": c32, "fcn32s_control": control,
            "fcn16s": [(i + budget, v) for i, v in read_losses(work / "fcn16s-train.log")],
            "fcn8s": [(i + 2 * budget, v) for i, v in read_losses(work / "fcn8s-train.log")]}


def read_scores(out: Path, seeds: list[int], arms: tuple[str, ...]) \
        -> dict[str, dict[str, list[float]]]:
    """The four metrics per arm, one value per seed in `seeds` order."""
    results: dict[str, dict[str, list[float]]] = {a: {m: [] for m in METRICS} for a in arms}
    for seed in seeds:
        for arm in arms:
            metrics = json.loads((out / f"seed{seed}" / f"score-{arm}" / "metrics.json")
                                 .read_text())["heads"][0]
            for m in METRICS:
                results[arm][m].append(metrics[m])
    return results


def replace_between(md: Path, begin: str, end: str, table: str) -> None:
    """Puts `table` between the markers of docs/results.md (appended when they are missing)."""
    text = md.read_text() if md.exists() else ""
    if begin not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    a, b = text.index(begin) + len(begin), text.index(end)
    md.write_text(text[:a] + "\n" + table + "\n" + text[b:])


def precision_table(fp32: dict, bf16: dict, seeds: list[int]) -> tuple[str, dict]:
    """The bf16 run against the fp32 run, arm by arm and seed by seed (mean IU, points), and
    whether each arm's bf16 mean lies within the fp32 seeds' range. Both runs must hold the same
    seeds (the arms of one seed start from the same draws and see the same data order in both
    precisions, so the per-seed differences are paired)."""
    if fp32["seeds"] != seeds:
        raise ValueError(f"the fp32 run has seeds {fp32['seeds']}, the bf16 run {seeds}")
    names = {"fcn32s": "FCN-32s", "fcn16s": "FCN-16s", "fcn8s": "FCN-8s",
             "fcn32s_control": "FCN-32s control"}
    rows = ["| net | fp32 mean IU | bf16 mean IU | bf16 per seed | bf16 - fp32 per seed | "
            "bf16 mean within the fp32 seeds' range |", "|---|---|---|---|---|---|"]
    verdict = {}
    for arm in ARMS:
        if arm not in bf16:
            continue
        f, h = [100 * v for v in fp32[arm]["mean_iu"]], [100 * v for v in bf16[arm]["mean_iu"]]
        within = min(f) <= statistics.mean(h) <= max(f)
        verdict[arm] = {"fp32_range": [min(f), max(f)], "bf16_mean": statistics.mean(h),
                        "within": within}
        diffs = [x - y for x, y in zip(h, f)]
        rows.append(
            f"| {names[arm]} | {statistics.mean(f):.1f} ({min(f):.1f}-{max(f):.1f}) | "
            f"{statistics.mean(h):.1f} ± {(max(h) - min(h)) / 2:.1f} | "
            + " / ".join(f"{v:.1f}" for v in h) + " | "
            + " / ".join(f"{d:+.1f}" for d in diffs)
            + f" (mean {statistics.mean(diffs):+.1f}) | {'yes' if within else 'no'} |")
    return "\n".join(rows), verdict


def report_precision(args: argparse.Namespace, config: dict) -> None:
    seeds, precision = config["seeds"], config["precision"]
    arms = tuple(config.get("arms", ARMS))
    results = read_scores(args.out, seeds, arms)
    fp32 = json.loads((args.docs / "results" / "camvid.json").read_text())
    table, verdict = precision_table(fp32, results, seeds)
    doc = {"dataset": "CamVid 240x180 (367 train, 101 val, 11 classes, 11 ignored)",
           "precision": precision, "budget_per_stage": config["budget"], "seeds": seeds,
           **results, "against_fp32": verdict}
    json_path = args.docs / "results" / f"camvid-{precision}.json"
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    replace_between(args.docs / "results.md", MARK_BF16_BEGIN, MARK_BF16_END, table)
    print(table)
    print(f"wrote {json_path} and {args.docs / 'results.md'}")


def cmd_report(args: argparse.Namespace) -> None:
    config = json.loads((args.out / "config.json").read_text())
    if config.get("precision", "fp32") != "fp32":
        report_precision(args, config)
        return
    if tuple(config.get("arms", ARMS)) != ARMS:
        sys.exit(f"error: {args.out} was trained with --skip-control; the fp32 report needs "
                 "every arm")
    budget, seeds = config["budget"], config["seeds"]
    results = read_scores(args.out, seeds, ARMS)
    doc = {"dataset": "CamVid 240x180 (367 train, 101 val, 11 classes, 11 ignored)",
           "budget_per_stage": budget, "seeds": seeds, **results}
    json_path = args.docs / "results" / "camvid.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=1) + "\n")

    names = {"fcn32s": f"FCN-32s ({budget} it)", "fcn32s_control":
             f"FCN-32s control ({3 * budget} it)", "fcn16s": f"FCN-16s (+{budget} it)",
             "fcn8s": f"FCN-8s (+{budget} it)"}
    rows = ["| net | pixel acc. | mean acc. | mean IU | f.w. IU |", "|---|---|---|---|---|"]
    for arm in ARMS:
        cells = []
        for m in METRICS:
            v = results[arm][m]
            spread = (max(v) - min(v)) / 2 if len(v) > 1 else 0.0
            cells.append(f"{100 * statistics.mean(v):.1f} ± {100 * spread:.1f}")
        rows.append(f"| {names[arm]} | " + " | ".join(cells) + " |")
    # The gains, seed by seed: the arms of one seed share the msra draws and the data order, so
    # the per-seed differences are the paired comparison.
    rows += ["", "| gain (mean IU, points) | per seed | mean ± half range |", "|---|---|---|"]
    for better, worse in (("fcn16s", "fcn32s"), ("fcn8s", "fcn16s"), ("fcn8s", "fcn32s_control")):
        diffs = [100 * (x - y) for x, y in zip(results[better]["mean_iu"],
                                                results[worse]["mean_iu"])]
        spread = (max(diffs) - min(diffs)) / 2 if len(diffs) > 1 else 0.0
        per_seed = " / ".join(f"{d:+.1f}" for d in diffs)
        rows.append(f"| {names[better]} over {names[worse]} | {per_seed} | "
                    f"{statistics.mean(diffs):+.1f} ± {spread:.1f} |")
    table = "\n".join(rows)
    md = args.docs / "results.md"
    replace_between(md, MARK_BEGIN, MARK_END, table)
    print(table)

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing (apt-get install python3-matplotlib): no loss curves")
        return
    fig, axes = plt.subplots(2, len(seeds), figsize=(6 * len(seeds), 8), squeeze=False)
    for column, seed in enumerate(seeds):
        work = args.out / f"seed{seed}"
        ax = axes[0][column]
        for arm, points in curves(work, budget).items():
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], label=names[arm],
                        linewidth=1)
        ax.set_title(f"CamVid, seed {seed}: training loss (mean of 20 iterations)")
        ax.set_xlabel("iterations since the msra start")
        ax.set_ylabel("per-pixel softmax loss")
        ax.legend()
        ax = axes[1][column]
        for arm, points in val_curves(work, budget).items():
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                        label=names[arm], linewidth=1)
        ax.set_title(f"CamVid, seed {seed}: val mean IU (the training log's test passes)")
        ax.set_xlabel("iterations since the msra start")
        ax.set_ylabel("mean IU")
        ax.legend()
    fig.tight_layout()
    png = args.docs / "results" / "camvid-curves.png"
    fig.savefig(png, dpi=80)
    print(f"wrote {json_path}, {md} and {png}")


def cmd_pictures(args: argparse.Namespace) -> None:
    """Val images with truth and the three nets' predictions side by side (not committed)."""
    work = args.out / f"seed{args.seed}"
    config = json.loads((args.out / "config.json").read_text())
    b = config["budget"]
    val_list = args.camvid / "val.txt"
    lines = val_list.read_text().split("\n")[:args.count]
    images = [str(args.camvid / "val" / Path(line.split()[0]).name) for line in lines if line]
    text = (ROOT / "models" / "camvid-fcn8s-narrow" / "train.prototxt").read_text()
    mean = ",".join(re.findall(r"mean_value: ([0-9.]+)", text)[:3])
    scale = re.search(r"scale: ([0-9.]+)", text).group(1)
    preds = []
    for arm, stride, weights in (("FCN-32s", 32, f"fcn32s_iter_{b}"), ("FCN-16s", 16,
                                 f"fcn16s_iter_{b}"), ("FCN-8s", 8, f"fcn8s_iter_{b}")):
        out = args.out / "pictures" / arm
        run([str(fcntool()), "segment",
             f"--model={ROOT / 'models' / f'camvid-fcn{stride}s-narrow' / 'deploy.prototxt'}",
             f"--weights={work / (weights + '.caffemodel')}", f"--mean_value={mean}",
             f"--scale={scale}", f"--output_dir={out}"] + images)
        preds += ["--pred", f"{arm}={out}"]
    png = args.out / "pictures" / "camvid-side-by-side.png"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "side_by_side.py"), "--root",
                    str(args.camvid), "--list", str(val_list), "--rows", str(args.count)] +
                   preds + ["--out", str(png)], check=True)
    print(f"wrote {png}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("train", "report", "pictures"))
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "camvid")
    parser.add_argument("--camvid", type=Path,
                        default=ROOT.parent / "shared" / "data" / "camvid" / "240x180")
    parser.add_argument("--budget", type=int, default=1500, help="iterations per stage")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--test-iter", type=int, default=101,
                        help="val images per test pass in the training log (101: all)")
    parser.add_argument("--jobs", type=int, default=2, help="seeds trained at once")
    parser.add_argument("--seed", type=int, default=1, help="pictures: the seed's nets")
    parser.add_argument("--count", type=int, default=6, help="pictures: val images")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="train: what convolutions multiply in (fcntool --precision)")
    parser.add_argument("--skip-control", action="store_true",
                        help="train: only the FCN-32s -> 16s -> 8s chain, no control arm")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs",
                        help="report: where results.md and results/ are")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    if args.budget < 2 or args.budget % 2:
        parser.error("--budget must be even (snapshots every budget/2)")
    {"train": cmd_train, "report": cmd_report, "pictures": cmd_pictures}[args.command](args)


if __name__ == "__main__":
    main()
