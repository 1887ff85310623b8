"""Gradcheck cases for tinycnn.ops.elementwise."""
import numpy as np

from ...ops import elementwise as el
from .common import Case, away_from_zero, normal, uniform, untied_pair

_MASK = np.array([[True, False, True, False]] * 3)

CASES = [
    Case("exp", el.exp, normal((3, 4))),
    Case("log", el.log, uniform(0.5, 2.0, (3, 4))),
    Case("sqrt", el.sqrt, uniform(0.5, 2.0, (3, 4))),
    Case("abs", el.abs, away_from_zero((3, 4))),
    Case("clamp", lambda x: el.clamp(x, -0.5, 0.5),
         lambda rng: [np.array([[-1.0, -0.3, 0.1, 0.4], [0.7, -0.8, 0.2, 1.5]])]),
    Case("maximum", el.maximum, untied_pair((3, 4), (4,))),
    Case("minimum", el.minimum, untied_pair((3, 4), (4,))),
    Case("where", lambda a, b: el.where(_MASK, a, b), normal((3, 4), (1, 4))),
]
