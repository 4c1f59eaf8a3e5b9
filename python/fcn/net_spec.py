# SPDX-License-Identifier: BSD-2-Clause
"""NetSpec: write nets in Python, with pycaffe's ``caffe.net_spec`` names and semantics.

Layers are made by calling attributes of :data:`layers` (``L.Convolution(bottom, ...)``), enum
values come from :data:`params` (``P.Pooling.MAX``), and a :class:`NetSpec` names the tops that
are assigned to it. ``to_proto()`` gives an ``fcn_pb2.NetParameter``; ``str()`` of it is the
prototxt text::

    from fcn import layers as L, params as P, NetSpec
    n = NetSpec()
    n.data, n.label = L.Data(ntop=2, data_param=dict(source="db/train", batch_size=1,
                                                     backend=P.Data.LMDB))
    n.conv1 = L.Convolution(n.data, num_output=16, kernel_size=3, pad=1,
                            param=[dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)])
    n.relu1 = L.ReLU(n.conv1, in_place=True)
    print(n.to_proto())

The keyword arguments of a layer call are, as in pycaffe:

* ``ntop`` (default 1): the number of tops; the call returns one ``Top``, a tuple of them, or,
  for ``ntop=0``, the layer's :class:`Function` itself;
* ``in_place=True``: the layer's tops are its bottoms (ReLU, Dropout);
* a name ending in ``param`` (``param``, ``convolution_param``, ``transform_param``, ...): that
  field of ``LayerParameter``;
* any other name: a field of the layer type's own parameter message (``num_output`` of a
  Convolution goes into ``convolution_param``), else a field of ``LayerParameter`` itself
  (``name``, ``include``, ``loss_weight``, ...).

Values are assigned recursively: a dict fills a message, a list of dicts adds one message per
item to a repeated field (``param=[dict(lr_mult=1), dict(lr_mult=2)]``), a list of scalars
extends a repeated field, and a single value given to a repeated field is appended
(``kernel_size=3``).

Names follow pycaffe: a top assigned to the NetSpec gets that name, and the layer that makes it
gets the name of its first top; every other top and layer gets ``<Type><n>`` (``Convolution1``,
counted per type). A ``name=`` keyword overrides the layer's name.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any, Callable, Iterable, Union

try:
    from . import fcn_pb2  # the module built next to this file (build/python/fcn)
except ImportError:  # run from the source tree: the generated module is on sys.path
    try:
        import fcn_pb2  # type: ignore[no-redef]
    except ImportError as e:
        raise ImportError(
            "fcn.net_spec needs the generated protobuf module fcn_pb2: build the project "
            "(cmake --build build) and put build/python on PYTHONPATH") from e

__all__ = ["NetSpec", "Top", "Function", "Layers", "Parameters", "layers", "params", "to_proto",
           "param_name_dict", "assign_proto"]


def param_name_dict() -> dict[str, str]:
    """Layer type -> the prefix of its ``*_param`` field, from the LayerParameter descriptor.

    The type is the parameter message's name without ``Parameter`` (``ConvolutionParameter`` ->
    ``Convolution`` -> ``convolution``), as pycaffe derives it. fcn adds the one type that
    shares another's message: ``Deconvolution`` -> ``convolution``.
    """
    names: dict[str, str] = {}
    for field in fcn_pb2.LayerParameter.DESCRIPTOR.fields:
        if not field.name.endswith("_param") or field.message_type is None:
            continue
        type_name = field.message_type.name
        if type_name.endswith("Parameter"):
            type_name = type_name[:-len("Parameter")]
        names[type_name] = field.name[:-len("_param")]
    names.setdefault("Deconvolution", "convolution")
    return names


_param_names = param_name_dict()


def assign_proto(proto: Any, name: str, val: Any) -> None:
    """Set field ``name`` of the message ``proto`` from a Python value, recursively.

    A list of dicts adds one message per dict to a repeated message field; another list extends
    a repeated field; a dict fills a message field; a single value given to a repeated field is
    appended; anything else is assigned.
    """
    field = getattr(proto, name)  # AttributeError names the missing field
    repeated = hasattr(field, "extend")
    if repeated and not isinstance(val, (list, tuple)):
        val = [val]
    if isinstance(val, (list, tuple)):
        if not repeated:
            raise TypeError(f"field {name!r} of {type(proto).__name__} is not repeated: it "
                            f"cannot take a list ({val!r})")
        if val and isinstance(val[0], dict):
            for item in val:
                if not isinstance(item, dict):
                    raise TypeError(f"field {name!r}: a list of messages must hold only dicts, "
                                    f"got {item!r}")
                message = field.add()
                for k, v in item.items():
                    assign_proto(message, k, v)
        else:
            field.extend(val)
    elif isinstance(val, dict):
        for k, v in val.items():
            assign_proto(field, k, v)
    else:
        setattr(proto, name, val)


class Top:
    """The ``n``-th output of a :class:`Function` (a layer still to be written)."""

    def __init__(self, fn: Function, n: int) -> None:
        self.fn = fn
        self.n = n
        # The name this top was last given in a NetSpec: only for messages (coord_map.crop).
        self._name_hint: str | None = None

    def to_proto(self) -> fcn_pb2.NetParameter:
        """A NetParameter with this top and every layer it depends on (auto-named)."""
        return to_proto(self)

    def _update(self, params: dict[str, Any]) -> None:
        self.fn.params.update(params)

    def _to_proto(self, layers: dict, names: dict, autonames: Counter) -> None:
        self.fn._to_proto(layers, names, autonames)

    def __repr__(self) -> str:
        hint = f" {self._name_hint!r}" if self._name_hint else ""
        return f"<Top{hint}: #{self.n} of {self.fn.type_name}>"


class Function:
    """A layer: its type, its bottoms (Tops) and its parameters, not yet written out."""

    def __init__(self, type_name: str, inputs: Iterable[Top], params: dict[str, Any]) -> None:
        self.type_name = type_name
        self.inputs = tuple(inputs)
        for i, bottom in enumerate(self.inputs):
            if not isinstance(bottom, Top):
                raise TypeError(
                    f"L.{type_name}: bottom {i} is {type(bottom).__name__} {bottom!r}, not a Top "
                    "(a layer with several tops returns a tuple: unpack it, or give ntop)")
        self.params = dict(params)
        self.ntop = self.params.pop("ntop", 1)
        if not isinstance(self.ntop, int) or self.ntop < 0:
            raise ValueError(f"L.{type_name}: ntop must be a non-negative integer, "
                             f"got {self.ntop!r}")
        self.in_place = bool(self.params.pop("in_place", False))
        if self.in_place and self.ntop != len(self.inputs):
            raise ValueError(f"L.{type_name}: in_place needs as many tops as bottoms "
                             f"({self.ntop} top(s), {len(self.inputs)} bottom(s))")
        self.tops = tuple(Top(self, n) for n in range(self.ntop))

    def _get_name(self, names: dict, autonames: Counter) -> str:
        if self not in names and self.ntop > 0:
            names[self] = self._get_top_name(self.tops[0], names, autonames)
        elif self not in names:
            autonames[self.type_name] += 1
            names[self] = self.type_name + str(autonames[self.type_name])
        return names[self]

    @staticmethod
    def _get_top_name(top: Top, names: dict, autonames: Counter) -> str:
        if top not in names:
            autonames[top.fn.type_name] += 1
            names[top] = top.fn.type_name + str(autonames[top.fn.type_name])
        return names[top]

    def _to_proto(self, layers: dict, names: dict, autonames: Counter) -> None:
        if self in layers:
            return
        bottom_names = []
        for bottom in self.inputs:
            bottom._to_proto(layers, names, autonames)
            bottom_names.append(layers[bottom.fn].top[bottom.n])
        layer = fcn_pb2.LayerParameter()
        layer.type = self.type_name
        layer.bottom.extend(bottom_names)
        if self.in_place:
            layer.top.extend(layer.bottom)
        else:
            for top in self.tops:
                layer.top.append(self._get_top_name(top, names, autonames))
        layer.name = self._get_name(names, autonames)
        for key, value in self.params.items():
            try:
                if key.endswith("param"):
                    assign_proto(layer, key, value)
                elif self.type_name in _param_names and _has_field(
                        getattr(layer, _param_names[self.type_name] + "_param"), key):
                    assign_proto(getattr(layer, _param_names[self.type_name] + "_param"), key,
                                 value)
                else:
                    assign_proto(layer, key, value)
            except (AttributeError, TypeError, ValueError) as e:
                where = (f"{_param_names[self.type_name]}_param or LayerParameter"
                         if self.type_name in _param_names and not key.endswith("param")
                         else "LayerParameter")
                raise type(e)(f"layer {layer.name!r} (L.{self.type_name}): {key}={value!r} "
                              f"does not fit {where}: {e}") from e
        layers[self] = layer


def _has_field(message: Any, name: str) -> bool:
    return name in message.DESCRIPTOR.fields_by_name


class _MissingTop(AttributeError, KeyError):
    """A name that no top of the NetSpec has (both an AttributeError and a KeyError)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NetSpec:
    """Names the tops assigned to it (``n.conv1 = L.Convolution(...)`` or ``n["conv1"] = ...``)
    and writes them, with every layer they depend on, in assignment order (``to_proto``)."""

    def __init__(self) -> None:
        super().__setattr__("tops", OrderedDict())

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Top):
            value._name_hint = name
        self.tops[name] = value

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["tops"][name]
        except KeyError:
            raise _MissingTop(f"NetSpec has no top named {name!r}") from None

    def __delattr__(self, name: str) -> None:
        try:
            del self.tops[name]
        except KeyError:
            raise _MissingTop(f"NetSpec has no top named {name!r}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        self.__setattr__(key, value)

    def __getitem__(self, key: str) -> Any:
        return self.__getattr__(key)

    def __delitem__(self, key: str) -> None:
        self.__delattr__(key)

    def __contains__(self, key: object) -> bool:
        return key in self.tops

    def keys(self) -> list[str]:
        return list(self.tops.keys())

    def to_proto(self) -> fcn_pb2.NetParameter:
        """A NetParameter with the layers of every assigned top, ancestors first."""
        names = {v: k for k, v in self.tops.items()}
        autonames: Counter = Counter()
        layers: OrderedDict = OrderedDict()
        for name, top in self.tops.items():
            if not isinstance(top, Top):
                raise TypeError(f"NetSpec top {name!r} is {type(top).__name__}, not a Top")
            top._to_proto(layers, names, autonames)
        net = fcn_pb2.NetParameter()
        net.layer.extend(layers.values())
        return net


def to_proto(*tops: Top) -> fcn_pb2.NetParameter:
    """A NetParameter with the given tops and every layer they depend on, all auto-named."""
    layers: OrderedDict = OrderedDict()
    autonames: Counter = Counter()
    for top in tops:
        top.fn._to_proto(layers, {}, autonames)
    net = fcn_pb2.NetParameter()
    net.layer.extend(layers.values())
    return net


LayerResult = Union[Top, tuple, Function]


class Layers:
    """``L.<Type>(*bottoms, **params)`` makes a layer of that type (any type name)."""

    def __getattr__(self, name: str) -> Callable[..., LayerResult]:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)

        def layer_fn(*args: Top, **kwargs: Any) -> LayerResult:
            fn = Function(name, args, kwargs)
            if fn.ntop == 0:
                return fn
            if fn.ntop == 1:
                return fn.tops[0]
            return fn.tops

        layer_fn.__name__ = name
        return layer_fn


class _EnumScope:
    """The values of one parameter message's enums (``P.Pooling.MAX``) or of a top-level enum
    (``P.Phase.TRAIN``)."""

    def __init__(self, name: str, scope: Any) -> None:
        self._name = name
        self._scope = scope

    def __getattr__(self, param_name: str) -> Any:
        if param_name.startswith("__") and param_name.endswith("__"):
            raise AttributeError(param_name)
        try:
            return getattr(self._scope, param_name)
        except AttributeError:
            raise AttributeError(f"P.{self._name} has no value {param_name!r}") from None


class Parameters:
    """``P.<Type>.<VALUE>``: an enum value of ``<Type>Parameter`` (``P.Pooling.MAX``,
    ``P.Eltwise.SUM``, ``P.Data.LMDB``), or of a top-level enum (``P.Phase.TRAIN``)."""

    def __getattr__(self, name: str) -> _EnumScope:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        for candidate in (name + "Parameter", name):
            scope = getattr(fcn_pb2, candidate, None)
            if scope is not None:
                return _EnumScope(name, scope)
        raise AttributeError(f"P.{name}: fcn_pb2 has neither a message {name}Parameter nor an "
                             f"enum {name}")


layers = Layers()
params = Parameters()
