"""Op table: reshaping, permuting, broadcasting, indexing, joining."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.testing.opinfo import MAX_DIMS, OpInfo, ints, shape, unary


def t_index(index):
    """An index of ndarrays as torch tensors."""
    import torch
    conv = (lambda i: torch.from_numpy(i) if isinstance(i, np.ndarray) else i)
    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


def _t_permute(x, axes=None):
    return x.permute(tuple(axes) if axes else tuple(reversed(range(x.ndim))))


# ----- parameters drawn with the input shape -------------------------------------------------
def _reshape_target(pick, s):
    """A new shape with the same number of elements: axes shuffled, merged, 1s and a -1."""
    dims = list(s)
    for i in range(len(dims) - 1, 0, -1):
        j = pick(range(i + 1))
        dims[i], dims[j] = dims[j], dims[i]
    if len(dims) >= 2 and pick((False, True)):
        i = pick(range(len(dims) - 1))
        dims[i: i + 2] = [dims[i] * dims[i + 1]]
    for _ in range(pick(range(3))):
        dims.insert(pick(range(len(dims) + 1)), 1)
    if dims and pick((False, True)):
        dims[pick(range(len(dims)))] = -1
    return {"shape": tuple(dims)}


def _permutation(pick, s):
    if not s or pick((False, True)):
        return {"axes": ()}
    order = list(range(len(s)))
    for i in range(len(order) - 1, 0, -1):
        j = pick(range(i + 1))
        order[i], order[j] = order[j], order[i]
    return {"axes": tuple(a - len(s) if pick((False, True)) else a for a in order)}


def _broadcast_target(pick, s):
    lead = [pick(range(1, 4)) for _ in range(pick(range(3)))]
    body = [pick(range(1, 4)) if d == 1 else d for d in s]
    return {"shape": tuple(lead + body)}


def _basic_index(pick, s):
    """A tuple of ints, slices (either step sign), None and Ellipsis: basic indexing only."""
    items: list = []
    for n in s[: pick(range(1, len(s) + 1))]:
        form = pick(("int", "slice", "slice", "full"))
        if form == "int":
            items.append(pick(range(-n, n)))
        elif form == "full":
            items.append(slice(None))
        else:
            bounds = (None,) + tuple(range(-n - 1, n + 2))
            items.append(slice(pick(bounds), pick(bounds), pick((None, 1, 2, -1, -2))))
    if pick((False, True)):
        items.insert(pick(range(len(items) + 1)), None)
    if pick((False, True)) and len(items) < len(s):
        items.append(Ellipsis)
    return {"index": tuple(items)}


def _array_index(single: bool):
    """An integer-array index (negative values allowed) that always repeats an element."""
    def params(pick, s):
        idx_shape = shape(pick, min_dims=1, max_dims=2, min_side=2)
        first = ints(pick, -s[0], s[0] - 1, idx_shape)
        if single or len(s) == 1:
            return {"index": first}
        if pick(("pair", "slice_then_array")) == "pair":  # x[i, j] with i, j broadcast together
            return {"index": (first, ints(pick, -s[1], s[1] - 1, idx_shape[-1:]))}
        return {"index": (slice(None), ints(pick, 0, s[1] - 1, idx_shape))}
    return params


def _join(new_axis: bool):
    """1 to 3 inputs of one shape but (concatenate) their extent on the axis, maybe 0."""
    def sample(pick):
        base = list(shape(pick, min_dims=0 if new_axis else 1, max_dims=MAX_DIMS))
        nd = len(base) + new_axis
        axis = pick(range(-nd, nd))
        shapes = []
        for _ in range(pick(range(1, 4))):
            s = list(base)
            if not new_axis:
                s[axis] = pick(range(4))  # empty pieces are legal
            shapes.append(tuple(s))
        return shapes, {"axis": axis}
    return sample


def _t_cat(*xs, axis):
    import torch
    return torch.cat(xs, axis)


def _t_stack(*xs, axis):
    import torch
    return torch.stack(xs, axis)


_INDEXED = unary(_array_index(single=False), min_dims=1)
_INDEXED1 = unary(_array_index(single=True), min_dims=1)

OPS: list = [
    OpInfo("reshape", lambda x, shape: x.reshape(*shape), lambda x, shape: x.reshape(shape),
           unary(_reshape_target), ("Reshape",), torch=lambda x, shape: x.reshape(shape)),
    OpInfo("transpose", lambda x, axes: x.transpose(*axes),
           lambda x, axes: np.transpose(x, axes or None), unary(_permutation), ("Transpose",),
           torch=_t_permute),
    OpInfo(".T", lambda x: x.T, lambda x: x.T, unary(), ("Transpose",), torch=_t_permute),
    OpInfo("broadcast_to", lambda x, shape: tg.broadcast_to(x, shape), np.broadcast_to,
           unary(_broadcast_target), ("BroadcastTo",),
           torch=lambda x, shape: x.broadcast_to(shape)),
    OpInfo("getitem basic slices", lambda x, index: x[index], lambda x, index: x[index],
           unary(_basic_index, min_dims=1), ("GetItem",)),
    OpInfo("getitem integer arrays", lambda x, index: x[index], lambda x, index: x[index],
           _INDEXED, ("GetItem",), torch=lambda x, index: x[t_index(index)]),
    OpInfo("getitem integer Tensor", lambda x, index: x[tg.Tensor(index)],
           lambda x, index: x[index], _INDEXED1, ("GetItem",),
           torch=lambda x, index: x[t_index(index)]),
    OpInfo("getitem list", lambda x, index: x[index.tolist()], lambda x, index: x[index],
           _INDEXED1, ("GetItem",)),
    OpInfo("concatenate", lambda *xs, axis: tg.concatenate(xs, axis),
           lambda *xs, axis: np.concatenate(xs, axis), _join(False), ("Concatenate",),
           torch=_t_cat),
    OpInfo("stack", lambda *xs, axis: tg.stack(xs, axis), lambda *xs, axis: np.stack(xs, axis),
           _join(True), ("Stack",), torch=_t_stack),
]
