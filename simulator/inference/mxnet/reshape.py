"""MXNet's ``Reshape`` target shape, with its special codes (as MXNet's ``InferReshapeShape`` applies them):

- ``0`` copies the input dimension at that place; ``-1`` is inferred from the remaining size;
- ``-2`` copies all remaining input dimensions; ``-3`` merges the next two input dimensions;
- ``-4, a, b`` splits the next input dimension into ``a × b`` (one of them may be -1);
- ``reverse=True`` applies the codes from the right.
"""

from __future__ import annotations

import math


class ReshapeError(ValueError):
    """The codes do not fit the input shape (the message says how)."""


def infer_reshape(codes: tuple[int, ...], dshape: tuple[int, ...], reverse: bool = False) -> tuple[int, ...]:
    src = list(reversed(dshape)) if reverse else list(dshape)
    params = list(reversed(codes)) if reverse else list(codes)
    out: list[int] = []
    src_idx, inf_idx, i = 0, -1, 0
    while i < len(params):
        code = params[i]
        if code == 0:
            if src_idx >= len(src):
                raise ReshapeError(f"code 0 at position {i} has no input dimension to copy")
            out.append(src[src_idx])
            src_idx += 1
        elif code == -1:
            if inf_idx >= 0:
                raise ReshapeError("only one dimension can be -1")
            inf_idx = len(out)
            out.append(1)
            src_idx += 1
        elif code == -2:
            out.extend(src[src_idx:])
            src_idx = len(src)
        elif code == -3:
            if src_idx + 1 >= len(src):
                raise ReshapeError(f"code -3 at position {i} needs two input dimensions to merge")
            out.append(src[src_idx] * src[src_idx + 1])
            src_idx += 2
        elif code == -4:
            if i + 2 >= len(params) or src_idx >= len(src):
                raise ReshapeError(f"code -4 at position {i} needs two values after it and an input dimension")
            whole, d1, d2 = src[src_idx], params[i + 1], params[i + 2]
            src_idx += 1
            i += 2
            if d1 == -1 and d2 == -1:
                raise ReshapeError("split dimensions cannot both be -1")
            if d1 == -1:
                d1 = whole // d2
            if d2 == -1:
                d2 = whole // d1
            if d1 * d2 != whole:
                raise ReshapeError(f"split dimensions {d1} x {d2} do not make {whole}")
            out.extend([d1, d2])
        elif code > 0:
            out.append(code)
            src_idx += 1
        else:
            raise ReshapeError(f"unknown code {code}")
        i += 1
    total = math.prod(dshape)
    if inf_idx >= 0:
        rest = math.prod(out)
        if rest == 0 or total % rest:
            raise ReshapeError(f"cannot infer the -1 dimension: {total} values do not divide by {rest}")
        out[inf_idx] = total // rest
    if reverse:
        out.reverse()
    if math.prod(out) != total:
        raise ReshapeError(f"shape {tuple(out)} holds {math.prod(out)} values, the input {tuple(dshape)} has {total}")
    return tuple(out)


def legacy_target_shape(target: tuple[int, ...], dshape: tuple[int, ...], keep_highest: bool) -> tuple[int, ...]:
    """The deprecated ``target_shape`` attribute: a 0 is inferred; ``keep_highest`` keeps the first dimension."""
    out = list(target)
    start = 1 if keep_highest else 0
    if keep_highest:
        out[0] = dshape[0]
    zeros = [i for i in range(start, len(out)) if out[i] == 0]
    total = math.prod(dshape)
    if len(zeros) == 1:
        out[zeros[0]] = 1
        out[zeros[0]] = total // math.prod(out)
    if math.prod(out) != total:
        raise ReshapeError(f"target_shape {tuple(out)} does not hold the input's {total} values")
    return tuple(out)
