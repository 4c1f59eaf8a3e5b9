# SPDX-License-Identifier: BSD-2-Clause
"""fcn.net_spec: pycaffe's NetSpec semantics, and the narrow CamVid FCN-8s written with it equals
the committed models/camvid-fcn8s-narrow prototxts layer by layer; fcntool check builds it."""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import text_format

import netspec_models as models
from fcn.net_spec import NetSpec, layers as L, params as P, to_proto


def read_net(path: Path, fcn_pb2: ModuleType):
    return text_format.Parse(path.read_text(), fcn_pb2.NetParameter())


def assert_same_layers(produced, committed, what: str) -> None:
    """Layer by layer, with both texts in the message of the first difference."""
    names = [layer.name for layer in produced.layer]
    assert names == [layer.name for layer in committed.layer], what
    for mine, theirs in zip(produced.layer, committed.layer):
        assert mine == theirs, (f"{what}: layer {mine.name!r} differs\nNetSpec:\n{mine}\n"
                                f"committed:\n{theirs}")


def crop_report(output: str) -> dict[str, tuple[str, str, str]]:
    """fcntool check's crop lines: layer -> (file offsets, derived offsets, verdict)."""
    found = {}
    for m in re.finditer(r"^\s+(\S+)\s+file (\S+)\s+derived (\S+)\s+(ok|MISMATCH)$", output,
                         re.MULTILINE):
        found[m[1]] = (m[2], m[3], m[4])
    return found


# --- pycaffe semantics ------------------------------------------------------------------------

def test_auto_names_count_per_type_and_layers_take_their_first_top_name() -> None:
    data = L.Input(input_param=dict(shape=dict(dim=[1, 3, 8, 8])))
    conv = L.Convolution(data, num_output=2, kernel_size=3)
    conv2 = L.Convolution(conv, num_output=2, kernel_size=1)
    net = to_proto(L.ReLU(conv2, in_place=True))
    wiring = [(layer.name, layer.type, list(layer.bottom), list(layer.top)) for layer in net.layer]
    assert wiring == [
        ("Input1", "Input", [], ["Input1"]),
        ("Convolution1", "Convolution", ["Input1"], ["Convolution1"]),
        ("Convolution2", "Convolution", ["Convolution1"], ["Convolution2"]),
        ("ReLU1", "ReLU", ["Convolution2"], ["Convolution2"]),
    ]
    # Top.to_proto is the same as to_proto(top).
    assert conv2.to_proto() == to_proto(conv2)
    assert len(conv2.to_proto().layer) == 3


def test_netspec_names_in_assignment_order_and_in_place_tops_use_the_bottom_name() -> None:
    n = NetSpec()
    n.data, n.label = L.DummyData(ntop=2, shape=[dict(dim=[1, 3, 4, 4]), dict(dim=[1, 1, 4, 4])])
    n.conv = L.Convolution(n.data, num_output=2, kernel_size=1)
    n.relu = L.ReLU(n.conv, in_place=True)
    hidden = L.Pooling(n.relu, pool=P.Pooling.AVE, kernel_size=2, stride=2)  # unnamed
    n["loss"] = L.SoftmaxWithLoss(hidden, n.label)
    L.Silence(n.loss, ntop=0)  # ntop=0 returns the Function; not reachable from the tops
    net = n.to_proto()
    assert [(layer.name, list(layer.bottom), list(layer.top)) for layer in net.layer] == [
        ("data", [], ["data", "label"]),
        ("conv", ["data"], ["conv"]),
        ("relu", ["conv"], ["conv"]),
        ("Pooling1", ["conv"], ["Pooling1"]),
        ("loss", ["Pooling1", "label"], ["loss"]),
    ]
    assert net.layer[3].pooling_param.pool == P.Pooling.AVE
    assert n.keys() == ["data", "label", "conv", "relu", "loss"]
    assert "conv" in n and n["conv"] is n.conv


def test_kwargs_go_to_the_type_param_then_to_the_layer() -> None:
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3, 8, 8]))  # `shape` is input_param's
    n.up = L.Deconvolution(n.data, num_output=3, kernel_size=4, stride=2, bias_term=False,
                           param=dict(lr_mult=0), name="upsample", loss_weight=[0.5],
                           include=dict(phase=P.Phase.TEST))
    n.pool = L.Pooling(n.up, pool=P.Pooling.MAX, kernel_size=2, stride=2,
                       pooling_param=dict(pad=1))
    net = n.to_proto()
    inp, up, pool = net.layer
    assert list(inp.input_param.shape[0].dim) == [1, 3, 8, 8]
    assert up.name == "upsample" and list(up.top) == ["up"]  # name= overrides the layer name
    cp = up.convolution_param  # fcn maps Deconvolution's keywords to convolution_param
    assert (cp.num_output, list(cp.kernel_size), list(cp.stride), cp.bias_term) == (3, [4], [2],
                                                                                     False)
    assert [p.lr_mult for p in up.param] == [0.0]  # a single dict for a repeated message
    assert list(up.loss_weight) == [0.5]
    assert up.include[0].phase == P.Phase.TEST == 1
    assert (pool.pooling_param.pool, pool.pooling_param.kernel_size, pool.pooling_param.pad) == (
        P.Pooling.MAX, 2, 1)
    assert P.Eltwise.SUM == 1 and P.Eltwise.PROD == 0 and P.Phase.TRAIN == 0


def test_a_python_data_layer_as_the_reference_writes_it() -> None:
    n = NetSpec()
    n.data, n.label = L.Python(module="voc_layers", layer="SBDDSegDataLayer", ntop=2,
                               param_str=str(dict(split="train", seed=1337)))
    (layer,) = n.to_proto().layer
    assert (layer.name, layer.type, list(layer.top)) == ("data", "Python", ["data", "label"])
    assert (layer.python_param.module, layer.python_param.layer) == ("voc_layers",
                                                                     "SBDDSegDataLayer")
    assert ast.literal_eval(layer.python_param.param_str) == {"split": "train", "seed": 1337}


def test_str_of_the_proto_is_prototxt_that_parses_back(fcn_pb2: ModuleType) -> None:
    n = models.camvid_fcn("train", 8, models.fixed_crop(models.COMMITTED_OFFSETS[8]))
    net = n.to_proto()
    assert text_format.Parse(str(net), fcn_pb2.NetParameter()) == net
    assert 'pool: MAX' in str(net) and 'operation: SUM' in str(net)


def test_errors_name_the_layer_and_the_keyword() -> None:
    with pytest.raises(AttributeError, match=r"layer 'Convolution1' \(L.Convolution\): "
                                             r"no_such_field=3"):
        L.Convolution(L.Input(), no_such_field=3).to_proto()
    with pytest.raises(TypeError, match=r"layer 'Convolution1'.*num_output='eight'"):
        L.Convolution(L.Input(), num_output="eight").to_proto()
    with pytest.raises(TypeError, match="bottom 0 is tuple"):
        L.ReLU(L.DummyData(ntop=2))
    with pytest.raises(ValueError, match="in_place needs as many tops as bottoms"):
        L.Eltwise(L.Input(), L.Input(), in_place=True)
    n = NetSpec()
    with pytest.raises(AttributeError, match="no top named 'missing'"):
        n.missing
    with pytest.raises(KeyError):
        n["missing"]
    with pytest.raises(AttributeError, match="P.Pooling has no value 'MEDIAN'"):
        P.Pooling.MEDIAN
    with pytest.raises(AttributeError, match="NoSuchLayerParameter"):
        P.NoSuchLayer


# --- the narrow FCN-8s ------------------------------------------------------------------------

@pytest.mark.parametrize("split", ["train", "val", "deploy"])
def test_fcn8s_narrow_equals_the_committed_prototxt(split: str, repo_root: Path,
                                                    fcn_pb2: ModuleType) -> None:
    n = models.camvid_fcn(split, 8, models.fixed_crop(models.COMMITTED_OFFSETS[8]))
    committed = read_net(repo_root / "models" / "camvid-fcn8s-narrow" / f"{split}.prototxt",
                         fcn_pb2)
    assert_same_layers(n.to_proto(), committed, f"camvid-fcn8s-narrow/{split}")


def test_fcntool_check_builds_the_netspec_fcn8s(tmp_path: Path, fcntool: Path) -> None:
    """The deploy net (an Input, so no database is needed) as text: fcntool builds it, and the
    offsets in it agree with the ones its coordinate maps derive."""
    net = models.camvid_fcn("deploy", 8, models.fixed_crop(models.COMMITTED_OFFSETS[8]))
    proto = net.to_proto()
    proto.name = "netspec-fcn8s"
    path = tmp_path / "deploy.prototxt"
    path.write_text(str(proto))
    run = subprocess.run([str(fcntool), "check", f"--model={path}"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert crop_report(run.stdout) == {
        "score_pool4c": ("5,5", "5,5", "ok"),
        "score_pool3c": ("9,9", "9,9", "ok"),
        "score": ("31,31", "31,31", "ok"),
    }, run.stdout
    assert re.search(r"^score +Crop +score 1x11x180x240 ", run.stdout, re.MULTILINE), run.stdout


def test_fcntool_check_builds_the_fcn8s_with_offsets_from_coord_map_crop(
        tmp_path: Path, fcntool: Path, repo_root: Path, fcn_pb2: ModuleType) -> None:
    pytest.importorskip("fcn._fcn", reason="fcn._fcn (the compiled module) is not built: "
                        "coord_map.crop needs it to derive offsets")
    from fcn.coord_map import crop

    for split in ("train", "val", "deploy"):
        n = models.camvid_fcn(split, 8, crop)
        committed = read_net(repo_root / "models" / "camvid-fcn8s-narrow" / f"{split}.prototxt",
                             fcn_pb2)
        assert_same_layers(n.to_proto(), committed, f"camvid-fcn8s-narrow/{split} (coord_map)")
    proto = n.to_proto()
    path = tmp_path / "deploy.prototxt"
    path.write_text(str(proto))
    run = subprocess.run([str(fcntool), "check", f"--model={path}"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert {k: v[2] for k, v in crop_report(run.stdout).items()} == {
        "score_pool4c": "ok", "score_pool3c": "ok", "score": "ok"}, run.stdout
    # The net was built: the last crop gives the Input's 180x240 back.
    assert re.search(r"^score +Crop +score 1x11x180x240 ", run.stdout, re.MULTILINE), run.stdout


# --- the FCN reference's VGG-16 FCN-8s (../shared) ---------------------------------------------

def reference_dir(repo_root: Path) -> Path:
    env = os.environ.get("FCN_SHARED_DIR")
    shared = Path(env) if env else repo_root.parent / "shared"
    folder = shared / "reference" / "fcn-models" / "voc-fcn8s"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found (set FCN_SHARED_DIR): reference comparison skipped")
    return folder


@pytest.mark.parametrize("offsets", ["fixed", "coord_map"])
@pytest.mark.parametrize("split", ["train", "val", "deploy"])
def test_voc_fcn8s_as_the_reference_writes_it_equals_its_prototxt(
        split: str, offsets: str, repo_root: Path, fcn_pb2: ModuleType) -> None:
    """The reference's voc-fcn8s, Python data layers included, layer for layer."""
    folder = reference_dir(repo_root)
    if offsets == "coord_map":
        pytest.importorskip("fcn._fcn", reason="fcn._fcn (the compiled module) is not built: "
                            "coord_map.crop needs it to derive offsets")
        from fcn.coord_map import crop
    else:
        crop = models.fixed_crop(models.COMMITTED_OFFSETS[8])  # 5, 9, 31 as the reference
    n = models.voc_fcn8s(split, crop)
    assert_same_layers(n.to_proto(), read_net(folder / f"{split}.prototxt", fcn_pb2),
                       f"reference voc-fcn8s/{split} ({offsets} offsets)")
