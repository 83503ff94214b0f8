"""Op table: reshaping, permuting, broadcasting, indexing, joining."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.testing.opinfo import (
    MAX_DIMS, SAME, OpInfo, bools, broadcast_shapes, ints, one_axis, shape, shuffled, unary,
)


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
    dims = shuffled(pick, s)
    if len(dims) >= 2 and pick((False, True)):
        i = pick(range(len(dims) - 1))
        dims[i: i + 2] = [dims[i] * dims[i + 1]]
    for _ in range(pick(range(3))):
        dims.insert(pick(range(len(dims) + 1)), 1)
    if dims and pick((False, True)):
        dims[pick(range(len(dims)))] = -1
    return {"shape": tuple(dims)}


def _full_permutation(pick, s):
    """Every axis once, in a drawn order, some spelled negative."""
    return {"axes": tuple(a - len(s) if pick((False, True)) else a
                          for a in shuffled(pick, range(len(s))))}


def _permutation(pick, s):
    """No axes (reversed, as numpy.transpose) or a full permutation."""
    if not s or pick((False, True)):
        return {"axes": ()}
    return _full_permutation(pick, s)


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


def _some_axes(pick, s):
    """An int or a tuple of distinct axes (some negative), valid for s; 0-d takes 0 or -1."""
    nd = len(s)
    if not nd or pick((False, True)):
        return one_axis(pick, s)["axis"]
    axes = [a - nd if pick((False, True)) else a for a in range(nd) if pick((False, True))]
    return tuple(axes) or (pick(range(-nd, nd)),)


def _squeeze_axes(pick, s):
    return {"axis": None if pick((False, True)) else _some_axes(pick, s)}


def _np_squeeze(x, axis):
    if axis is None or x.ndim == 0:
        return np.squeeze(x) if axis is None else x
    axes = {a % x.ndim for a in np.atleast_1d(axis)}
    return np.squeeze(x, tuple(a for a in axes if x.shape[a] == 1))


def _flatten_range(pick, s):
    nd = max(len(s), 1)
    start = pick(range(nd))
    end = pick(range(start, nd))
    return {"start": start - nd if pick((False, True)) else start,
            "end": end - nd if pick((False, True)) else end}


def _np_flatten(x, start, end):
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start % x.ndim, end % x.ndim
    return x.reshape(x.shape[:s] + (int(np.prod(x.shape[s: e + 1])),) + x.shape[e + 1:])


def _expand_target(pick, s):
    """New leading sizes, size-1 axes stretched, and -1 for some kept sizes."""
    lead = [pick(range(1, 4)) for _ in range(pick(range(3)))]
    body = [pick(range(1, 4)) if d == 1 else (-1 if pick((False, True)) else d) for d in s]
    return {"shape": tuple(lead + body)}


def _np_expand(x, shape):
    lead = len(shape) - x.ndim
    return np.broadcast_to(x, shape[:lead] + tuple(
        n if d == -1 else d for n, d in zip(x.shape, shape[lead:])))


def _reps(pick, s):
    return {"reps": tuple(pick(range(1, 4)) for _ in range(len(s) + pick(range(3))))}


def _np_flip(x, axis):
    return x.copy() if x.ndim == 0 else np.flip(x, axis)


def _split_args(chunked: bool):
    """An axis with a split size, a list of sections (empty ones too), or a chunk count."""
    def params(pick, s):
        axis = pick(range(-len(s), len(s)))
        n = s[axis]
        if chunked:
            return {"arg": pick(range(1, n + 2)), "axis": axis}
        if pick((False, True)):
            return {"arg": pick(range(1, n + 2)), "axis": axis}
        cuts = sorted(pick(range(n + 1)) for _ in range(pick(range(3))))
        bounds = [0] + cuts + [n]
        return {"arg": [b - a for a, b in zip(bounds, bounds[1:])], "axis": axis}
    return params


def _rejoin(pieces, cat, axis):
    """The pieces joined in reverse order without the first (which then gets no gradient),
    so one value checks every output of the split node."""
    pieces = list(pieces)
    return cat(pieces[:0:-1] if len(pieces) > 1 else pieces, axis)


def _np_split(x, arg, axis, chunked=False):
    n = x.shape[axis]
    if chunked:
        arg = -(-n // arg)
    sizes = arg if isinstance(arg, list) else [min(arg, n - i) for i in range(0, n, arg)]
    starts = np.cumsum([0] + list(sizes))
    return [np.take(x, range(a, b), axis=axis) for a, b in zip(starts, starts[1:])]


def _t_split(x, arg, axis):
    import torch
    return _rejoin(torch.split(x, arg, axis), torch.cat, axis)


def _t_chunk(x, arg, axis):
    import torch
    return _rejoin(torch.chunk(x, arg, axis), torch.cat, axis)


def _roll_args(pick, s):
    """No axis (flattened; 0-d too), one axis, or a tuple of axes (repeats allowed) with one
    shift each, shifts past the size and negative."""
    nd = len(s)
    kind = pick(("none", "int", "tuple")) if nd else "none"
    if kind == "none":
        return {"shifts": pick(range(-5, 6)) if pick((False, True)) else (pick(range(-5, 6)),),
                "axis": None}
    if kind == "int":
        return {"shifts": pick(range(-5, 6)), "axis": pick(range(-nd, nd))}
    axes = tuple(pick(range(-nd, nd)) for _ in range(pick(range(1, 4))))
    return {"shifts": tuple(pick(range(-5, 6)) for _ in axes), "axis": axes}


def _narrow_args(pick, s):
    axis = pick(range(-len(s), len(s)))
    n = s[axis]
    start = pick(range(-n, n + 1))
    first = start + n if start < 0 else start
    return {"axis": axis, "start": start, "length": pick(range(n - first + 1))}


def _np_narrow(x, axis, start, length):
    start = start + x.shape[axis] if start < 0 else start
    return np.take(x, range(start, start + length), axis=axis)


def _unbind_stack(pieces, stack, axis):
    """The pieces stacked in reverse order without the first (see _rejoin)."""
    pieces = list(pieces)
    return stack(pieces[:0:-1] if len(pieces) > 1 else pieces, axis)


def _t_unbind(x, axis):
    import torch
    return _unbind_stack(x.unbind(axis), torch.stack, axis)


def _movedim_args(pick, s):
    """Two ints, or two sequences of as many distinct axes (some negative)."""
    nd = max(len(s), 1)
    spell = (lambda a: a - nd if pick((False, True)) else a)
    if not s or pick((False, True)):
        return {"source": spell(pick(range(nd))), "destination": spell(pick(range(nd)))}
    k = pick(range(len(s) + 1))
    return {"source": tuple(spell(a) for a in shuffled(pick, range(nd))[:k]),
            "destination": tuple(spell(a) for a in shuffled(pick, range(nd))[:k])}


def _expand_as_case(pick):
    s = shape(pick)
    return [s, np.zeros(_broadcast_target(pick, s)["shape"], dtype=np.int64)], {}


def _np_expand_as(x, other):
    return np.broadcast_to(x, other.shape)


def _repeat_interleave_args(array: bool):
    """An axis (None flattens) and repeats: one count, or (array) one per entry or a single
    one in an array, zeros included."""
    def params(pick, s):
        axis = None if not s or pick((False, True)) else pick(range(-len(s), len(s)))
        n = int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]
        if not array:
            return {"repeats": pick(range(4)), "axis": axis}
        size = pick((1, n))
        return {"repeats": ints(pick, 0, 3, (size,), repeat=False), "axis": axis}
    return params


def _t_repeat_interleave(x, repeats, axis):
    import torch
    if isinstance(repeats, np.ndarray):
        repeats = torch.from_numpy(repeats)
    return x.repeat_interleave(repeats, axis)


def _tensor_split_args(pick, s):
    """An axis with a number of sections (more than its size too) or a list of indices:
    mostly sorted, some negative or past the end; sometimes out of order (pieces overlap)."""
    axis = pick(range(-len(s), len(s)))
    n = s[axis]
    if pick((False, True)):
        return {"arg": pick(range(1, n + 3)), "axis": axis}
    idx = sorted(pick(range(n + 2)) for _ in range(pick(range(4))))
    idx = [i - n - 1 if pick((False, False, True)) and i <= n else i for i in idx]
    if len(idx) > 1 and pick((False, False, False, True)):
        idx = idx[::-1]
    return {"arg": idx, "axis": axis}


def _t_tensor_split(x, arg, axis):
    import torch
    return _rejoin(x.tensor_split(arg, axis), torch.cat, axis)


def _flip_ints(pick, s):
    """Distinct axes as separate ints (x.flip(0, 1)); a 0-d tensor takes 0 or -1."""
    nd = len(s)
    if not nd:
        return {"axes": (pick((0, -1)),)}
    axes = [a - nd if pick((False, True)) else a for a in shuffled(pick, range(nd))]
    return {"axes": tuple(axes[: pick(range(1, nd + 1))])}


def _gather_case(pick):
    """x, and an index of x's ndim (no larger off the axis, any length on it, repeats)."""
    s = shape(pick, min_dims=1)
    axis = pick(range(-len(s), len(s)))
    idx_shape = tuple(pick(range(1, 5)) if d == axis % len(s) else pick(range(1, n + 1))
                      for d, n in enumerate(s))
    return [s, ints(pick, 0, s[axis] - 1, idx_shape)], {"axis": axis}


def _np_gather(x, index, axis):
    ax = axis % x.ndim
    cut = tuple(slice(None) if d == ax else slice(0, n) for d, n in enumerate(index.shape))
    return np.take_along_axis(x[cut], index, axis=ax)


def _index_select_case(pick):
    s = shape(pick, min_dims=1)
    axis = pick(range(-len(s), len(s)))
    return [s, ints(pick, 0, s[axis] - 1, (pick(range(1, 6)),))], {"axis": axis}


def _t_gather(x, index, axis):
    import torch
    return torch.gather(x, axis, index)


def _t_index_select(x, index, axis):
    import torch
    return torch.index_select(x, axis, index)


def _masked_fill_case(tensor_value: bool):
    """x and a boolean mask that broadcast together (the mask may add axes), a fill value."""
    def sample(pick):
        xs, ms = broadcast_shapes(pick, 2)
        if tensor_value:
            return [xs, bools(pick, ms), ()], {}
        return [xs, bools(pick, ms)], {"value": pick((-1.5, 0.0, 2.0))}
    return sample


def _pad_widths(pick, s):
    """(before, after) pairs for some trailing axes, last axis first; crops stay in range."""
    pad = []
    for n in reversed(s[len(s) - pick(range(len(s) + 1)):]):
        before = pick(range(-n, 3))
        pad += [before, pick(range(-(n - max(-before, 0)), 3))]
    return {"pad": tuple(pad), "value": pick((0.0, 1.5))}


def _np_pad(x, pad, value):
    pairs = [(0, 0)] * (x.ndim - len(pad) // 2) + [
        (pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2)]
    if x.ndim == 0:
        return x.copy()
    y = np.pad(x, [(max(b, 0), max(a, 0)) for b, a in pairs], constant_values=value)
    return y[tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(y.shape, pairs))]


def _pad_modes(pick, s):
    """mode (reflect, replicate, circular) and (before, after) pairs for some trailing axes,
    last axis first, within what each mode allows (reflect: < n, circular: <= n)."""
    mode = pick(("reflect", "replicate", "circular"))
    pad = []
    for n in reversed(s[len(s) - pick(range(len(s) + 1)):]):
        most = {"reflect": n - 1, "circular": n, "replicate": 3}[mode]
        pad += [pick(range(min(most, 3) + 1)), pick(range(min(most, 3) + 1))]
    return {"pad": tuple(pad), "mode": mode}


def _np_pad_mode(x, pad, mode):
    pairs = [(0, 0)] * (x.ndim - len(pad) // 2) + [
        (pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2)]
    how = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(x, pairs, mode=how) if pairs else x.copy()


def _sort_params(pick, s):
    return {"axis": pick(range(-len(s), len(s))), "descending": pick((False, True))}


def _np_sort(x, axis, descending):
    y = np.sort(x, axis=axis)
    return np.flip(y, axis) if descending else y


def _topk_params(pick, s):
    axis = pick(range(-len(s), len(s)))
    return {"k": pick(range(s[axis] + 1)), "axis": axis, "largest": pick((False, True))}


def _np_topk(x, k, axis, largest):
    y = np.sort(x, axis=axis)
    return np.take(np.flip(y, axis) if largest else y, np.arange(k), axis=axis)


def _unflatten_args(pick, s):
    """An axis and sizes whose product is its size: a factor pair, maybe 1s, maybe a -1."""
    axis = pick(range(-len(s), len(s)))
    n = s[axis]
    a = pick([d for d in range(1, n + 1) if n % d == 0])
    sizes = [a, n // a]
    for _ in range(pick(range(2))):
        sizes.insert(pick(range(len(sizes) + 1)), 1)
    if pick((False, True)):
        sizes[pick(range(len(sizes)))] = -1
    return {"axis": axis, "sizes": tuple(sizes)}


def _np_unflatten(x, axis, sizes):
    ax = axis % x.ndim
    return x.reshape(x.shape[:ax] + tuple(sizes) + x.shape[ax + 1:])


def _reshape_as_case(pick):
    """x and an integer array of the shape to take (x's sizes shuffled, merged, 1s added)."""
    s = shape(pick)
    dims = shuffled(pick, s)
    if len(dims) >= 2 and pick((False, True)):
        dims[:2] = [dims[0] * dims[1]]
    for _ in range(pick(range(2))):
        dims.insert(pick(range(len(dims) + 1)), 1)
    return [s, np.zeros(tuple(dims), dtype=np.int64)], {}


def _scatter_add_case(larger_src: bool):
    """x, src and an index of x's ndim (no larger than x off the axis, any length on it,
    repeats); src of the index's shape, or (larger_src) larger on some axes."""
    def sample(pick):
        s = shape(pick, min_dims=1)
        axis = pick(range(-len(s), len(s)))
        ax = axis % len(s)
        idx_shape = tuple(pick(range(1, 5)) if d == ax else pick(range(1, n + 1))
                          for d, n in enumerate(s))
        src_shape = tuple(i + (pick((0, 1)) if larger_src else 0) for i in idx_shape)
        return [s, src_shape, ints(pick, 0, s[ax] - 1, idx_shape)], {"axis": axis}
    return sample


def _np_scatter_add(x, src, index, axis):
    out = x.copy()
    at = list(np.indices(index.shape, sparse=True))
    at[axis % x.ndim] = index
    np.add.at(out, tuple(at), src[tuple(slice(0, n) for n in index.shape)])
    return out


def _index_add_case(pick):
    """x, a source with len(index) entries on the axis, an index with repeats, and alpha."""
    s = shape(pick, min_dims=1)
    axis = pick(range(-len(s), len(s)))
    ax = axis % len(s)
    index = ints(pick, 0, s[ax] - 1, (pick(range(1, 5)),))
    return [s, s[:ax] + index.shape + s[ax + 1:], index], {"axis": axis,
                                                            "alpha": pick((1, 2.5, -1.0))}


def _np_index_add(x, source, index, axis, alpha):
    out = x.copy()
    np.add.at(out, (slice(None),) * (axis % x.ndim) + (index,), alpha * source)
    return out


def _t_scatter_add(x, src, index, axis):
    return x.scatter_add(axis, index, src)


def _t_index_add(x, source, index, axis, alpha):
    return x.index_add(axis, index, source, alpha=alpha)


def _t_pad(x, pad, value):
    import torch.nn.functional as tF
    return tF.pad(x, pad, value=value)


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
    OpInfo("cat", lambda *xs, axis: tg.cat(xs, dim=axis),
           lambda *xs, axis: np.concatenate(xs, axis), _join(False), ("Concatenate",),
           torch=_t_cat, composed=True),
    OpInfo("unsqueeze", lambda x, axis: x.unsqueeze(axis), np.expand_dims,
           unary(lambda pick, s: {"axis": pick(range(-len(s) - 1, len(s) + 1))}), ("Reshape",),
           torch=SAME, composed=True),
    OpInfo("squeeze", lambda x, axis: x.squeeze(axis), _np_squeeze, unary(_squeeze_axes),
           ("Reshape",), torch=lambda x, axis: x.squeeze() if axis is None else x.squeeze(axis),
           composed=True),
    OpInfo("flatten", lambda x, start, end: x.flatten(start_dim=start, end_dim=end), _np_flatten,
           unary(_flatten_range), ("Reshape",), torch=SAME, composed=True),
    OpInfo("view", lambda x, shape: x.view(*shape), lambda x, shape: x.reshape(shape),
           unary(_reshape_target), ("Reshape",), torch=lambda x, shape: x.view(shape),
           composed=True),
    OpInfo("permute", lambda x, axes: x.permute(*axes),
           lambda x, axes: np.transpose(x, axes or None), unary(_full_permutation),
           ("Transpose",), torch=lambda x, axes: x.permute(axes), composed=True),
    OpInfo("expand", lambda x, shape: x.expand(*shape), _np_expand, unary(_expand_target),
           ("BroadcastTo",), torch=lambda x, shape: x.expand(shape), composed=True),
    OpInfo("repeat", lambda x, reps: x.repeat(*reps), np.tile, unary(_reps), ("Repeat",),
           torch=lambda x, reps: x.repeat(reps)),
    OpInfo("flip", lambda x, axis: x.flip(axis), _np_flip,
           unary(lambda pick, s: {"axis": _some_axes(pick, s)}), ("Flip",), torch=SAME),
    OpInfo("flip separate ints", lambda x, axes: x.flip(*axes),
           lambda x, axes: _np_flip(x, axes), unary(_flip_ints), ("Flip",), torch=SAME),
    OpInfo("roll", lambda x, shifts, axis: x.roll(shifts, dims=axis),
           lambda x, shifts, axis: np.roll(x, shifts, axis), unary(_roll_args), ("Roll",),
           torch=SAME),
    OpInfo("narrow", lambda x, axis, start, length: x.narrow(axis, start, length), _np_narrow,
           unary(_narrow_args, min_dims=1), ("GetItem",), torch=SAME, composed=True),
    OpInfo("movedim", lambda x, source, destination: x.movedim(source, destination),
           lambda x, source, destination: np.moveaxis(x, source, destination) if x.ndim
           else x, unary(_movedim_args), ("Transpose",), torch=SAME, composed=True),
    OpInfo("moveaxis", lambda x, source, destination: tg.moveaxis(x, source, destination),
           lambda x, source, destination: np.moveaxis(x, source, destination) if x.ndim
           else x, unary(_movedim_args), ("Transpose",),
           torch=lambda x, source, destination: x.moveaxis(source, destination), composed=True),
    OpInfo("expand_as", lambda x, other: x.expand_as(tg.Tensor(other)), _np_expand_as,
           _expand_as_case, ("BroadcastTo",), torch=lambda x, other: x.expand_as(other),
           composed=True),
    OpInfo(".H", lambda x: x.H, lambda x: x.T, unary(min_dims=2, max_dims=2), ("Transpose",),
           torch=SAME, composed=True),
    OpInfo("repeat_interleave", lambda x, repeats, axis: x.repeat_interleave(repeats, dim=axis),
           lambda x, repeats, axis: np.repeat(x, repeats, axis),
           unary(_repeat_interleave_args(array=False)), ("IndexSelect",), torch=SAME,
           composed=True),
    OpInfo("repeat_interleave array repeats",
           lambda x, repeats, axis: tg.repeat_interleave(x, tg.Tensor(repeats), axis),
           lambda x, repeats, axis: np.repeat(x, repeats, axis),
           unary(_repeat_interleave_args(array=True)), ("IndexSelect",),
           torch=_t_repeat_interleave, composed=True),
    OpInfo("unbind", lambda x, axis: _unbind_stack(x.unbind(dim=axis), tg.stack, axis),
           lambda x, axis: _unbind_stack(np.moveaxis(x, axis, 0), np.stack, axis),
           unary(lambda pick, s: {"axis": pick(range(-len(s), len(s)))}, min_dims=1),
           ("Split", "Reshape", "Stack"), torch=_t_unbind, composed=True),
    OpInfo("tensor_split",
           lambda x, arg, axis: _rejoin(x.tensor_split(arg, dim=axis), tg.cat, axis),
           lambda x, arg, axis: _rejoin(np.array_split(x, arg, axis), np.concatenate, axis),
           unary(_tensor_split_args, min_dims=1), ("Split", "Concatenate"),
           torch=_t_tensor_split, composed=True),
    OpInfo("split", lambda x, arg, axis: _rejoin(x.split(arg, dim=axis), tg.cat, axis),
           lambda x, arg, axis: _rejoin(_np_split(x, arg, axis), np.concatenate, axis),
           unary(_split_args(chunked=False), min_dims=1), ("Split", "Concatenate"),
           torch=_t_split),
    OpInfo("chunk", lambda x, arg, axis: _rejoin(tg.chunk(x, arg, axis), tg.cat, axis),
           lambda x, arg, axis: _rejoin(_np_split(x, arg, axis, chunked=True), np.concatenate,
                                        axis),
           unary(_split_args(chunked=True), min_dims=1), ("Split", "Concatenate"),
           torch=_t_chunk, composed=True),
    OpInfo("gather", lambda x, index, axis: x.gather(axis, index), _np_gather, _gather_case,
           ("Gather",), torch=_t_gather),
    OpInfo("index_select", lambda x, index, axis: x.index_select(dim=axis, index=index),
           lambda x, index, axis: np.take(x, index, axis), _index_select_case, ("IndexSelect",),
           torch=_t_index_select),
    OpInfo("masked_fill", lambda x, mask, value: x.masked_fill(mask, value),
           lambda x, mask, value: np.where(mask, value, x), _masked_fill_case(False), ("Where",),
           torch=SAME, composed=True),
    OpInfo("masked_fill 0-d tensor value", lambda x, mask, v: x.masked_fill(mask, v),
           lambda x, mask, v: np.where(mask, v, x), _masked_fill_case(True), ("Where",),
           torch=SAME, composed=True),
    OpInfo("pad", lambda x, pad, value: F.pad(x, pad, value), _np_pad, unary(_pad_widths),
           ("Pad",), torch=_t_pad),
    # (PyTorch pads these modes on batched inputs of a few dims only: NumPy's np.pad is the
    # reference, and torch the one in tests/test_torch_api.py)
    OpInfo("pad reflect replicate circular", lambda x, pad, mode: F.pad(x, pad, mode=mode),
           _np_pad_mode, unary(_pad_modes, min_dims=1), ("IndexSelect",), composed=True),
    OpInfo("sort (values)", lambda x, axis, descending: x.sort(axis, descending)[0], _np_sort,
           unary(_sort_params, min_dims=1), ("Gather",), "distinct", composed=True,
           torch=lambda x, axis, descending: x.sort(dim=axis, descending=descending).values),
    OpInfo("argsort (x gathered there)",
           lambda x, axis, descending: x.gather(axis, x.argsort(axis, descending)), _np_sort,
           unary(_sort_params, min_dims=1), ("Gather",), "distinct", composed=True,
           torch=lambda x, axis, descending: x.gather(axis, x.argsort(dim=axis,
                                                                     descending=descending))),
    OpInfo("unflatten", lambda x, axis, sizes: x.unflatten(axis, sizes), _np_unflatten,
           unary(_unflatten_args, min_dims=1), ("Reshape",), torch=SAME, composed=True),
    OpInfo("view_as", lambda x, other: x.view_as(tg.Tensor(other)),
           lambda x, other: x.reshape(other.shape), _reshape_as_case, ("Reshape",),
           torch=lambda x, other: x.view_as(other), composed=True),
    OpInfo("reshape_as", lambda x, other: x.reshape_as(tg.Tensor(other)),
           lambda x, other: x.reshape(other.shape), _reshape_as_case, ("Reshape",),
           torch=lambda x, other: x.reshape_as(other), composed=True),
    OpInfo("t", lambda x: x.t(), lambda x: x.T, unary(min_dims=2, max_dims=2), ("Transpose",),
           torch=SAME, composed=True),
    OpInfo("scatter_add", lambda x, src, index, axis: x.scatter_add(axis, index, src),
           _np_scatter_add, _scatter_add_case(False), ("ScatterAdd",), torch=_t_scatter_add),
    # (torch's backward refuses a src larger than the index: NumPy is the reference)
    OpInfo("scatter_add larger src", lambda x, src, index, axis: tg.scatter_add(x, axis,
                                                                                 index, src),
           _np_scatter_add, _scatter_add_case(True), ("ScatterAdd",)),
    OpInfo("index_add", lambda x, source, index, axis, alpha: x.index_add(axis, index, source,
                                                                          alpha=alpha),
           _np_index_add, _index_add_case, ("ScatterAdd",), torch=_t_index_add, composed=True),
    OpInfo("topk (values)", lambda x, k, axis, largest: x.topk(k, axis, largest)[0], _np_topk,
           unary(_topk_params, min_dims=1), ("Gather",), "distinct", composed=True,
           torch=lambda x, k, axis, largest: x.topk(k, dim=axis, largest=largest).values),
]
