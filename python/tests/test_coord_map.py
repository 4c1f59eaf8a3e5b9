# SPDX-License-Identifier: BSD-2-Clause
"""fcn.coord_map.crop: offsets derived by fcn's C++ coordinate maps (fcn._fcn.crop_offsets)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import text_format

pytest.importorskip("fcn._fcn", reason="fcn._fcn (the compiled module) is not built: "
                    "coord_map.crop derives its offsets with it")

import netspec_models as models  # noqa: E402
from fcn.coord_map import _graph_proto, crop  # noqa: E402
from fcn.net_spec import Function, NetSpec, layers as L  # noqa: E402


def image_input(height: int = 64, width: int = 64) -> dict:
    return dict(input_param=dict(shape=dict(dim=[1, 3, height, width])))


def crop_layer(n: NetSpec, name: str):
    return next(layer for layer in n.to_proto().layer if layer.name == name)


@pytest.mark.parametrize("stride", [32, 16, 8])
@pytest.mark.parametrize("split", ["train", "deploy"])
def test_derived_offsets_equal_the_committed_nets(stride: int, split: str, repo_root: Path,
                                                  fcn_pb2: ModuleType) -> None:
    n = models.camvid_fcn(split, stride, crop)
    path = repo_root / "models" / f"camvid-fcn{stride}s-narrow" / f"{split}.prototxt"
    committed = text_format.Parse(path.read_text(), fcn_pb2.NetParameter())
    produced = n.to_proto()
    crops = {layer.name: (layer.crop_param.axis, list(layer.crop_param.offset))
             for layer in produced.layer if layer.type == "Crop"}
    expected = {layer.name: (layer.crop_param.axis, list(layer.crop_param.offset))
                for layer in committed.layer if layer.type == "Crop"}
    assert crops == expected
    assert {32: {"score": (2, [19])},
            16: {"score_pool4c": (2, [5]), "score": (2, [27])},
            8: {"score_pool4c": (2, [5]), "score_pool3c": (2, [9]), "score": (2, [31])}}[
                stride] == crops
    assert list(produced.layer) == list(committed.layer)


def test_different_offsets_per_axis_are_both_written() -> None:
    n = NetSpec()
    n.data = L.Input(**image_input())
    n.conv = L.Convolution(n.data, num_output=2, kernel_h=3, kernel_w=5)  # valid: shrinks 2 / 4
    n.cropped = crop(n.data, n.conv)
    layer = crop_layer(n, "cropped")
    assert (layer.crop_param.axis, list(layer.crop_param.offset)) == (2, [1, 2])
    assert list(layer.bottom) == ["data", "conv"]


def test_offsets_through_pooling_and_a_strided_deconvolution() -> None:
    # x_conv = x - 1; x_pool = (x_conv - 1/2) / 2; x_up = 2 x_pool + 3/2 = x: offset 0.
    n = NetSpec()
    n.data = L.Input(**image_input())
    n.conv = L.Convolution(n.data, num_output=2, kernel_size=3, pad=0)
    n.pool = L.Pooling(n.conv, kernel_size=2, stride=2)
    n.up = L.Deconvolution(n.pool, num_output=2, kernel_size=4, stride=2)
    n.score = crop(n.up, n.data)
    assert list(crop_layer(n, "score").crop_param.offset) == [0]
    n.pad = L.Convolution(n.data, num_output=2, kernel_size=1, pad=3)  # x + 3
    n.score2 = crop(n.pad, n.data)
    assert list(crop_layer(n, "score2").crop_param.offset) == [3]


def test_a_crop_between_different_scales_raises_naming_both_tops() -> None:
    n = models.camvid_fcn("deploy", 32, models.fixed_crop(models.COMMITTED_OFFSETS[32]))
    with pytest.raises(ValueError, match=r"crop\('score_fr', 'data'\): no offset can be derived"
                                         r".*differ in scale"):
        crop(n.score_fr, n.data)


def test_a_negative_offset_raises() -> None:
    n = NetSpec()
    n.data = L.Input(**image_input())
    n.valid = L.Convolution(n.data, num_output=2, kernel_size=3)  # smaller than data
    with pytest.raises(ValueError, match=r"crop\('valid', 'data'\).*not a non-negative integer"):
        crop(n.valid, n.data)


def test_unconnected_tops_raise_and_unnamed_tops_are_described() -> None:
    n = NetSpec()
    n.image = L.Input(**image_input())
    other = L.Input(**image_input())  # never assigned to the NetSpec
    with pytest.raises(ValueError, match=r"crop\('image', <unnamed top #0 of an L.Input>\).*"
                                         r"not connected"):
        crop(n.image, other)
    with pytest.raises(TypeError, match="top_to is str"):
        crop(n.image, "data")


def test_the_analysed_graph_has_distinct_blob_names_even_when_netspec_names_repeat() -> None:
    first, second = NetSpec(), NetSpec()
    first.data = L.Input(**image_input())
    first.x = L.Convolution(first.data, num_output=2, kernel_size=3)  # x - 1
    second.x = L.Convolution(first.x, num_output=2, kernel_size=5)  # x - 3: the same name
    probe = Function("Crop", (first.data, second.x), {"crop_param": {"axis": 2}})
    proto = _graph_proto(probe)
    tops = [t for layer in proto.layer for t in layer.top]
    assert len(tops) == len(set(tops)) == 4
    assert "x" not in tops and "data" in tops  # the repeated name is replaced, not shared
    second.cropped = crop(first.data, second.x)
    assert list(crop_layer(second, "cropped").crop_param.offset) == [3]
