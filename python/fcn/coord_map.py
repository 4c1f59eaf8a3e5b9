# SPDX-License-Identifier: BSD-2-Clause
"""``crop(top_from, top_to)``: a Crop layer whose offset fcn derives from the coordinate maps.

As in the FCN reference (``n.score = crop(n.upscore, n.data)``), the Crop cuts ``top_from`` to
the spatial size of ``top_to`` (axis 2 on), at the offset that aligns the two: the coordinate
maps of the layers between them and their common ancestor must compose to a pure shift
``x -> x + offset``. The offset is computed by fcn's C++ analysis (``fcn::CoordMapAnalysis``,
the same one ``fcntool check`` and ``fcntool align`` use) over the NetParameter of every layer
the two tops depend on, reached through ``fcn._fcn.crop_offsets``.

Unlike pycaffe's ``caffe.coord_map``, this module does not offer ``coord_map_from_to``: the
compiled module reports only what a Crop needs (an offset per spatial axis, or why there is
none), not the general affine map between two tops.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

from .net_spec import Function, Top, fcn_pb2, layers as L

__all__ = ["crop"]


def _describe(top: Top) -> str:
    """The top's NetSpec name, or what made it when it has none yet."""
    if top._name_hint:
        return repr(top._name_hint)
    return f"<unnamed top #{top.n} of an L.{top.fn.type_name}>"


def _ancestors(tops: list[Top]) -> list[Top]:
    """Every top the given tops depend on (themselves included), each once."""
    seen: dict[int, Top] = {}
    stack = list(tops)
    while stack:
        top = stack.pop()
        if id(top) in seen:
            continue
        seen[id(top)] = top
        stack.extend(top.fn.inputs)
        # A layer's other tops need names too (they are written with it).
        stack.extend(t for t in top.fn.tops if id(t) not in seen)
    return list(seen.values())


def _graph_proto(crop_fn: Function) -> Any:
    """The NetParameter of ``crop_fn`` and all it depends on, the Crop last.

    Tops are named by their NetSpec names where these are unique in the graph (so that the
    problem text of the analysis speaks the user's names), otherwise ``<Type><n>``; every name
    is distinct, because blob names are the net's wiring.
    """
    tops = _ancestors(list(crop_fn.inputs))
    hint_count = Counter(t._name_hint for t in tops if t._name_hint)
    names: dict[Any, str] = {}
    used: set[str] = set()
    for top in tops:
        hint = top._name_hint
        if hint and hint_count[hint] == 1:
            names[top] = hint
            used.add(hint)
    counters: Counter = Counter()
    for top in tops + list(crop_fn.tops):
        if top in names:
            continue
        while True:
            counters[top.fn.type_name] += 1
            candidate = f"{top.fn.type_name}{counters[top.fn.type_name]}"
            if candidate not in used:
                break
        names[top] = candidate
        used.add(candidate)
    layers: OrderedDict = OrderedDict()
    crop_fn._to_proto(layers, names, Counter())
    proto = fcn_pb2.NetParameter()
    proto.layer.extend(layers.values())
    return proto


def _crop_offsets(serialized: bytes) -> list[tuple[str, list[int], str]]:
    try:
        from . import _fcn  # the compiled module (pybind11), loaded only when a crop is made
    except ImportError as e:
        raise ImportError(
            "fcn.coord_map.crop derives offsets with the compiled module fcn._fcn, which could "
            "not be imported: build the project (cmake --build build) and put build/python on "
            f"PYTHONPATH ({e})") from e
    return _fcn.crop_offsets(serialized)


def crop(top_from: Top, top_to: Top) -> Top:
    """A Crop (axis 2) of ``top_from`` to the size of ``top_to``, with the derived offset.

    Raises ValueError, naming both tops and the analysis' reason, when the two are not related
    by a pure integer shift (different scales, no common ancestor, a negative offset...).
    """
    for which, top in (("top_from", top_from), ("top_to", top_to)):
        if not isinstance(top, Top):
            raise TypeError(f"crop: {which} is {type(top).__name__} {top!r}, not a Top")
    probe = Function("Crop", (top_from, top_to), {"crop_param": {"axis": 2}})
    proto = _graph_proto(probe)
    crop_name = proto.layer[-1].name
    results = _crop_offsets(proto.SerializeToString())
    found = [r for r in results if r[0] == crop_name]
    if not found:
        raise RuntimeError(f"crop({_describe(top_from)}, {_describe(top_to)}): the coordinate-map "
                           f"analysis returned no entry for the Crop layer {crop_name!r}")
    _, offsets, problem = found[-1]
    if problem or not offsets:
        raise ValueError(
            f"crop({_describe(top_from)}, {_describe(top_to)}): no offset can be derived from "
            f"the coordinate maps: {problem or 'no offsets returned'}")
    offsets = [int(o) for o in offsets]
    # One value when every spatial axis agrees, as pycaffe writes a square net's crop.
    offset = offsets[:1] if all(o == offsets[0] for o in offsets) else offsets
    return L.Crop(top_from, top_to, crop_param=dict(axis=2, offset=offset))
