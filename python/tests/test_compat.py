# SPDX-License-Identifier: BSD-2-Clause
"""The caffe compatibility package: on its own path only, re-exporting fcn."""
from __future__ import annotations

import sys
import tempfile
import textwrap

from pycore_support import COMPAT_DIR, PYTHON_DIR, env_with_paths, run


def python(script, *paths):
    """Runs `script` with only `paths` to import from (and a neutral working directory: with
    -c, Python puts the working directory first on sys.path)."""
    with tempfile.TemporaryDirectory() as cwd:
        return run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd,
                   env=env_with_paths(*paths))


def test_import_caffe_gives_fcn():
    r = python("""
        import caffe, fcn
        assert caffe.Net is fcn.Net and caffe.SGDSolver is fcn.SGDSolver
        assert caffe.Blob is fcn.Blob and caffe.get_solver is fcn.get_solver
        assert (caffe.TRAIN, caffe.TEST) == (0, 1)
        caffe.set_mode_cpu()
        import importlib.util
        for name in ("layers", "params", "NetSpec", "to_proto"):
            if importlib.util.find_spec("fcn.net_spec") is None:
                try:
                    getattr(caffe, name)
                except ImportError as e:
                    assert "fcn.net_spec" in str(e), e
                else:
                    raise AssertionError(name)
            else:
                import fcn.net_spec
                assert getattr(caffe, name) is getattr(fcn.net_spec, name)
        if importlib.util.find_spec("fcn.coord_map") is not None:
            import caffe.coord_map, fcn.coord_map
            assert caffe.coord_map.crop is fcn.coord_map.crop
            from caffe import layers as L, params as P  # the reference's net.py imports
        else:
            try:
                import caffe.coord_map
            except ImportError as e:
                assert "fcn.coord_map" in str(e), e
            else:
                raise AssertionError("caffe.coord_map")
        print("ok")
    """, COMPAT_DIR, PYTHON_DIR)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_caffe_is_not_on_fcns_own_path():
    r = python("""
        import fcn
        try:
            import caffe
        except ModuleNotFoundError:
            print("absent")
        else:
            print(caffe.__file__)
    """, PYTHON_DIR)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "absent"


def test_build_tree_import_and_proto():
    r = python("""
        import fcn
        from fcn import fcn_pb2
        p = fcn_pb2.NetParameter(name="x")
        assert fcn_pb2.NetParameter.FromString(p.SerializeToString()).name == "x"
        print(fcn.__file__)
    """, PYTHON_DIR)
    assert r.returncode == 0, r.stderr
    assert str(PYTHON_DIR / "fcn" / "__init__.py") == r.stdout.strip()


def test_cmake_install_tree(tmp_path):
    """`cmake --install` into a prefix: fcn imports from there and finds that prefix's
    libfcn.so through its relative rpath; the caffe package sits on its own path."""
    from pycore_support import BUILD

    r = run(["cmake", "--install", BUILD, "--prefix", tmp_path / "prefix"])
    assert r.returncode == 0, r.stdout + r.stderr
    site = next((tmp_path / "prefix" / "lib").glob("python3*/dist-packages"))
    compat = tmp_path / "prefix" / "share" / "fcn" / "python-compat"
    r = python("""
        import re, caffe, fcn
        assert caffe.Net is fcn.Net
        maps = open("/proc/self/maps").read()
        print(fcn.__file__)
        print(sorted({l.split()[-1] for l in maps.splitlines() if "libfcn.so" in l}))
    """, compat, site)
    assert r.returncode == 0, r.stderr
    module, libs = r.stdout.splitlines()
    assert module == str(site / "fcn" / "__init__.py")
    assert libs == repr([str(tmp_path / "prefix" / "lib" / "libfcn.so")])
