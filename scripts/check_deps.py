#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The dependency check (scripts/check-deps.sh): every Debian package the project uses is
installed by scripts/install-deps.sh, or pulled in by a package it installs.

What "uses" means:
  * every file or folder named by a FILEPATH/PATH entry of the build tree's CMakeCache.txt;
  * every shared library that fcntool and the test binaries load (ldd);
  * every Python module imported by data_scripts/, bench/, experiments/, models/, scripts/
    and the Python tests, found as Debian's /usr/bin/python3 finds it.
Each is mapped to the package that owns it (dpkg -S). A package that is neither listed in
install-deps.sh nor in the dependency closure (Depends and Pre-Depends, through Provides) of
the listed ones, nor part of every Debian base system (Essential or Priority: required, which
debootstrap always installs), is missing: the check names it with the file that needs it and
exits 1. Files outside Debian's packages (/usr/local, the project itself) are not checked.

Only the standard library is used, so the check runs before anything is installed.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
PYTHON_DIRS = ("data_scripts", "bench", "experiments", "models", "scripts", "tests")


# --- what install-deps.sh lists --------------------------------------------------------------

def listed_packages(install_deps: Path) -> set[str]:
    """The names inside the `packages=( ... )` array of install-deps.sh (comments dropped)."""
    text = install_deps.read_text()
    m = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M)
    if not m:
        raise SystemExit(f"check-deps: {install_deps}: no packages=( ... ) list found")
    names: set[str] = set()
    for line in m.group(1).splitlines():
        line = line.split("#", 1)[0]
        names.update(w for w in line.split() if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", w))
    return names


# --- the installed packages and their dependency graph ---------------------------------------

@dataclass
class PackageDb:
    depends: dict[str, list[list[str]]] = field(default_factory=dict)  # pkg -> AND of ORs
    provides: dict[str, set[str]] = field(default_factory=dict)  # virtual -> providers
    base: set[str] = field(default_factory=set)  # Essential or Priority: required

    @staticmethod
    def parse(status: str) -> "PackageDb":
        """Parses `dpkg-query -W -f='${Package}\\t${Status}\\t${Essential}\\t${Priority}\\t
        ${Provides}\\t${Depends}, ${Pre-Depends}\\n'` output (installed packages only)."""
        db = PackageDb()
        for line in status.splitlines():
            parts = line.split("\t")
            if len(parts) < 6:
                continue
            name, state, essential, priority, provides, deps = parts[:6]
            if "installed" not in state.split():
                continue
            name = name.split(":")[0]
            if essential == "yes" or priority == "required":
                db.base.add(name)
            for prov in _names(provides):
                db.provides.setdefault(prov, set()).add(name)
            alts = []
            for clause in deps.split(","):
                options = [_bare(o) for o in clause.split("|") if _bare(o)]
                if options:
                    alts.append(options)
            db.depends[name] = alts
        return db

    def resolve(self, name: str) -> list[str]:
        """The installed packages that satisfy `name` (itself, or what provides it)."""
        out = [name] if name in self.depends else []
        out.extend(sorted(self.provides.get(name, ())))
        return out

    def closure(self, roots: Iterable[str]) -> set[str]:
        """Every installed package reachable from `roots` through Depends/Pre-Depends. Of an
        alternative (a | b) every installed option counts: any one of them satisfies it."""
        seen: set[str] = set()
        todo = [p for r in roots for p in self.resolve(r)]
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            for options in self.depends.get(p, []):
                for o in options:
                    todo.extend(q for q in self.resolve(o) if q not in seen)
        return seen


def _bare(dep: str) -> str:
    """'libfoo (>= 1.2) [amd64]' or 'python3:any' -> the package name."""
    dep = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", dep).strip()
    return dep.split(":")[0]


def _names(field_text: str) -> list[str]:
    return [n for n in (_bare(x) for x in field_text.split(",")) if n]


def installed_db() -> PackageDb:
    fmt = ("${Package}\\t${Status}\\t${Essential}\\t${Priority}\\t${Provides}\\t"
           "${Depends}, ${Pre-Depends}\\n")
    out = subprocess.run(["dpkg-query", "-W", "-f=" + fmt], check=True, text=True,
                         capture_output=True).stdout
    return PackageDb.parse(out)


# --- the files a build tree uses -------------------------------------------------------------

def cache_files(build: Path) -> dict[str, str]:
    """file -> why, for the CMakeCache.txt entries of type FILEPATH/PATH under /usr or /lib."""
    cache = build / "CMakeCache.txt"
    if not cache.is_file():
        raise SystemExit(f"check-deps: {cache}: not found (configure the build first: "
                         f"cmake -S . -B {build})")
    used: dict[str, str] = {}
    for line in cache.read_text(errors="replace").splitlines():
        m = re.match(r"^([A-Za-z0-9_.+-]+):(FILEPATH|PATH)=(/.*)$", line)
        if not m:
            continue
        for value in m.group(3).split(";"):
            if re.match(r"^/(usr/(lib|include|share|bin)|lib|bin)/", value) and os.path.exists(value):
                used.setdefault(value, f"{cache} ({m.group(1)})")
    return used


def binaries(build: Path) -> list[Path]:
    """fcntool and every test or benchmark executable of the build tree."""
    out = []
    for pattern in ("src/**/fcntool", "tests/**/*_test", "bench/**/*", "fuzz/**/*"):
        for p in build.glob(pattern):
            if p.is_file() and os.access(p, os.X_OK) and not p.suffix:
                out.append(p)
    return sorted(set(out))


def linked_libraries(exes: list[Path]) -> dict[str, str]:
    """library file -> the binary that loads it (ldd)."""
    used: dict[str, str] = {}
    for exe in exes:
        r = subprocess.run(["ldd", str(exe)], text=True, capture_output=True)
        for line in r.stdout.splitlines():
            m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
            if m:
                used.setdefault(m.group(1), f"{exe} (ldd)")
    return used


# --- the Python modules the project imports --------------------------------------------------

def python_sources(root: Path) -> list[Path]:
    files = []
    for d in PYTHON_DIRS:
        base = root / d
        if base.is_dir():
            files.extend(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def imported_modules(src: Path) -> set[str]:
    """Top-level names of every import statement in one file (relative imports skipped)."""
    try:
        tree = ast.parse(src.read_text(), str(src))
    except SyntaxError as e:
        raise SystemExit(f"check-deps: {src}:{e.lineno}: cannot parse: {e.msg}")
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def module_files(root: Path, python: str) -> tuple[dict[str, str], list[str]]:
    """file -> why for every imported module that Debian's interpreter finds outside the
    project, and the errors for modules it cannot find at all."""
    by_module: dict[str, list[Path]] = {}
    local = {p.stem for p in python_sources(root)} | {p.name for p in root.rglob("*")
                                                      if p.is_dir() and (p / "__init__.py").exists()}
    for src in python_sources(root):
        for name in imported_modules(src):
            if name not in local and name != "__future__":
                by_module.setdefault(name, []).append(src)
    if not by_module:
        return {}, []
    # Ask the interpreter the project runs with where each module comes from.
    probe = ("import importlib.util, sys\n"
             "for n in sys.argv[1:]:\n"
             "    try:\n"
             "        s = importlib.util.find_spec(n)\n"
             "    except Exception:\n"
             "        s = None\n"
             "    o = None if s is None else (s.origin if s.origin not in (None, 'built-in', 'frozen') "
             "else (list(s.submodule_search_locations or [None])[0]))\n"
             "    print(n, o if o else ('builtin' if s is not None else 'MISSING'))\n")
    r = subprocess.run([python, "-c", probe, *sorted(by_module)], text=True, capture_output=True,
                       check=True, cwd="/")
    used: dict[str, str] = {}
    errors: list[str] = []
    for line in r.stdout.splitlines():
        name, where = line.split(" ", 1)
        first = by_module[name][0].relative_to(root)
        if where == "MISSING":
            errors.append(f"Python module '{name}' (imported by {first}) is not installed for "
                          f"{python}: find its package with 'apt-cache search python3-{name}'")
        elif where != "builtin" and not Path(where).resolve().is_relative_to(root):
            used.setdefault(where, f"{first} (import {name})")
    return used, errors


# --- files -> packages -----------------------------------------------------------------------

def owners(files: Iterable[str]) -> dict[str, str]:
    """file -> owning package, through dpkg -S. A path is tried as given, resolved, and with
    or without the /usr prefix (usrmerge: /lib is /usr/lib, and dpkg knows one of the two)."""
    candidates: dict[str, str] = {}
    for f in files:
        forms = {f, os.path.realpath(f)}
        for g in list(forms):
            if g.startswith("/usr/"):
                forms.add(g[4:])
            elif g.startswith(("/lib", "/bin", "/sbin")):
                forms.add("/usr" + g)
        for g in forms:
            candidates.setdefault(g, f)
    result: dict[str, str] = {}
    paths = sorted(candidates)
    for i in range(0, len(paths), 400):
        r = subprocess.run(["dpkg", "-S", *paths[i:i + 400]], text=True, capture_output=True)
        for line in r.stdout.splitlines():
            m = re.match(r"^(.+?): (/.*)$", line)
            if not m or "diversion" in line:
                continue
            original = candidates.get(m.group(2))
            if original and original not in result:
                result[original] = m.group(1).split(",")[0].strip().split(":")[0]
    return result


def check(used: dict[str, str], owner_of: dict[str, str], listed: set[str],
          db: PackageDb) -> list[str]:
    """The problems: one line per missing package, naming the package and a file that needs it."""
    allowed = db.closure(listed) | db.base | listed
    missing: dict[str, str] = {}
    for f in sorted(used):
        pkg = owner_of.get(f)
        if pkg and pkg not in allowed and pkg not in missing:
            missing[pkg] = f"{f} (used by {used[f]})"
    return [f"package '{p}' is not installed by scripts/install-deps.sh (nor by a package it "
            f"installs), but {why} needs it: add '{p}' to install-deps.sh"
            for p, why in sorted(missing.items())]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", nargs="?", default="build", help="a configured build tree")
    ap.add_argument("--install-deps", default=str(ROOT / "scripts/install-deps.sh"),
                    help="the install script whose packages=( ) list is checked")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="the interpreter that runs the project's Python")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every package used")
    args = ap.parse_args(argv)

    build = Path(args.build)
    if not build.is_absolute():
        build = (Path.cwd() / build)
    listed = listed_packages(Path(args.install_deps))
    used = cache_files(build)
    exes = binaries(build)
    for f, why in linked_libraries(exes).items():
        used.setdefault(f, why)
    py_used, errors = module_files(ROOT, args.python)
    for f, why in py_used.items():
        used.setdefault(f, why)
    owner_of = owners(used)
    db = installed_db()
    problems = errors + check(used, owner_of, listed, db)
    packages = sorted(set(owner_of.values()))
    if args.verbose:
        for p in packages:
            print(f"  {p}")
    if problems:
        for p in problems:
            print(f"check-deps: {p}", file=sys.stderr)
        return 1
    print(f"check-deps: ok: {len(used)} files ({len(exes)} binaries, {len(py_used)} Python "
          f"modules) from {len(packages)} Debian packages, all installed by "
          f"{len(listed)} packages in install-deps.sh or their dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
