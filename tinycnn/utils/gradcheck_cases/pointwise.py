"""Gradcheck cases for tinycnn.ops.pointwise (rounding inputs kept away from the jumps)."""
from ...ops import pointwise as p
from .common import Case, away_from_zero, normal


def _between_integers(shape):
    """Values in (k + 0.1, k + 0.4) or (k + 0.6, k + 0.9): away from integers and from halves."""
    def make(rng):
        whole = rng.integers(-3, 3, shape)
        frac = rng.uniform(0.1, 0.4, shape) + rng.choice([0.0, 0.5], shape)
        return [whole + frac]
    return make


def _quotients_off_integers(rng):
    """(a, b) with a / b at least 0.1 from an integer, so trunc/floor of it do not jump nearby."""
    b = rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    q = rng.integers(-3, 3, (3, 4)) + rng.uniform(0.15, 0.85, (3, 4))
    return [q * b, b]


CASES = [
    Case("floor", p.floor, _between_integers((3, 4))),
    Case("ceil", p.ceil, _between_integers((3, 4))),
    Case("trunc", p.trunc, _between_integers((3, 4))),
    Case("round", p.round, _between_integers((3, 4))),
    Case("round_decimals", lambda x: p.round(x * 10, decimals=-1), _between_integers((3, 4))),
    Case("frac", p.frac, _between_integers((3, 4))),
    Case("fmod", p.fmod, _quotients_off_integers),
    Case("remainder", p.remainder, _quotients_off_integers),
    Case("atan2", p.atan2, lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0.3, 2.0, (4,))]),
    Case("lerp", p.lerp, normal((3, 4), (3, 4), (4,))),
    Case("lerp_scalar_weight", lambda a, b: p.lerp(a, b, 0.7), normal((3, 4), (1, 4))),
    Case("copysign", p.copysign, lambda rng: away_from_zero((3, 4))(rng) + away_from_zero((3, 4))(rng)),
    Case("logaddexp", p.logaddexp, normal((3, 4), (4,))),
    Case("logaddexp2", p.logaddexp2, normal((3, 4), (3, 1))),
    Case("hypot", p.hypot, lambda rng: away_from_zero((3, 4))(rng) + away_from_zero((4,))(rng)),
    Case("nan_to_num", p.nan_to_num, normal((3, 4))),
    Case("addcmul", lambda a, b, c: p.addcmul(a, b, c, value=0.5), normal((3, 4), (3, 4), (4,))),
    Case("addcdiv", lambda a, b, c: p.addcdiv(a, b, c, value=-2), lambda rng: [
        rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (3, 4))]),
    Case("float_power", p.float_power, lambda rng: [rng.uniform(0.5, 2.0, (3, 4)), rng.standard_normal(4)]),
]
