"""Gradcheck cases for tinycnn.ops.shape."""
import numpy as np

from ...ops import shape as sh
from .common import Case, normal

_X34, _X234 = normal((3, 4)), normal((2, 3, 4))
_MASK = np.array([[True, False, True, True]] * 3)

CASES = [
    Case("reshape", lambda x: sh.reshape(x, 4, -1), _X234),
    Case("permute", lambda x: sh.permute(x, 2, 0, 1), _X234),
    Case("transpose", lambda x: sh.transpose(x, 0, -1), _X234),
    Case("flatten", lambda x: sh.flatten(x, 1), _X234),
    Case("squeeze", lambda x: sh.squeeze(x, 1), normal((3, 1, 2))),
    Case("unsqueeze", lambda x: sh.unsqueeze(x, -1), _X34),
    Case("expand", lambda x: sh.expand(x, 2, 3, 4), normal((3, 1))),
    Case("getitem_slices", lambda x: sh.getitem(x, (slice(None, None, 2), None, Ellipsis, 1)), _X234),
    Case("getitem_repeated", lambda x: sh.getitem(x, (np.array([0, 2, 0, 0]), slice(1, 3))), _X34),
    Case("getitem_mask", lambda x: sh.getitem(x, _MASK), _X34),
    Case("pad_constant", lambda x: sh.pad(x, (1, 2, -1, 1), value=0.5), _X234),
    *[Case(f"pad_{mode}", lambda x, m=mode: sh.pad(x, (2, 1, 1, 2), mode=m), _X234)
      for mode in ("reflect", "replicate", "circular")],
    Case("cat", lambda a, b: sh.cat([a, b], dim=1), normal((2, 3), (2, 2))),
    Case("stack", lambda a, b: sh.stack([a, b], dim=-1), normal((2, 3), (2, 3))),
]
