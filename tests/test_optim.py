"""tinycnn.optim: trajectories equal PyTorch's, state dicts resume exactly, dtypes are kept, errors are named.

The problem: two parameters (a 3x4 matrix and a 5-vector) and a gradient computed in NumPy from the current
values, ``g = c_t + 2 (p - target) + 0.3 sin(p)``, with offsets ``c_t`` that change every step (so that
momentum, moment estimates and accumulators are all exercised). The same gradients are handed to tinycnn and
to torch, and both trajectories (every parameter after every step) are compared.
"""
import numpy as np
import pytest

import tinycnn
from tinycnn import optim
from tinycnn.nn import Parameter

STEPS = 30
_rng = np.random.default_rng(1234)
SHAPES = [(3, 4), (5,)]
INIT = [_rng.normal(size=s) for s in SHAPES]
TARGET = [_rng.normal(size=s) for s in SHAPES]
OFFSETS = [[_rng.normal(size=s) * 2.0 / (1 + 0.2 * t) for s in SHAPES] for t in range(STEPS)]


def gradients(t, values):
    return [OFFSETS[t][i] + 2 * (v - TARGET[i]) + 0.3 * np.sin(v) for i, v in enumerate(values)]


def skip_every_third(t, i):
    """Parameter 1 gets no gradient on steps 0, 3, 6...: it must be skipped (value and state unchanged)."""
    return i == 1 and t % 3 == 0


def groups_of(params, group_opts):
    if group_opts is None:
        return params
    return [dict(opts, params=[p]) for opts, p in zip(group_opts, params)]


def run_tinycnn(name, kwargs, group_opts=None, steps=STEPS, skip=None, dtype=np.float64):
    params = [Parameter(x.astype(dtype)) for x in INIT]
    opt = getattr(optim, name)(groups_of(params, group_opts), **kwargs)
    return _drive(opt, params, steps, skip, lambda p: p.array, lambda g: tinycnn.Tensor(g.astype(dtype)))


def run_torch(name, kwargs, group_opts=None, steps=STEPS, skip=None, dtype=np.float64):
    torch = pytest.importorskip("torch")
    params = [torch.nn.Parameter(torch.from_numpy(x.astype(dtype))) for x in INIT]
    opt = getattr(torch.optim, name)(groups_of(params, group_opts), **kwargs)
    return _drive(opt, params, steps, skip, lambda p: p.detach().numpy(), lambda g: torch.from_numpy(g.astype(dtype)))


def _drive(opt, params, steps, skip, value, make_grad, start=0):
    trajectory = []
    for t in range(start, start + steps):
        opt.zero_grad()
        for i, (p, g) in enumerate(zip(params, gradients(t, [value(p) for p in params]))):
            if not (skip and skip(t, i)):
                p.grad = make_grad(g)
        opt.step()
        trajectory.append([value(p).copy() for p in params])
    return trajectory


def assert_same_trajectory(ours, theirs, atol=1e-10):
    assert len(ours) == len(theirs)
    for t, (a_step, b_step) in enumerate(zip(ours, theirs)):
        for i, (a, b) in enumerate(zip(a_step, b_step)):
            err = np.max(np.abs(a - b))
            assert err <= atol, f"step {t + 1}, parameter {i}: max |tinycnn - torch| = {err:.3e}"


CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, weight_decay=0.2)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.2, eps=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=0.5)),
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, weight_decay=0.2)),
    ("Adam", dict(lr=0.05, betas=(0.9, 0.5), amsgrad=True)),
    ("Adam", dict(lr=0.05, betas=(0.5, 0.9), eps=0.1)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True, betas=(0.8, 0.5))),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.7, eps=1e-3, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.3, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=0.1, weight_decay=0.2)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.9), momentum_decay=0.01, weight_decay=0.2)),
    ("NAdam", dict(lr=0.05, weight_decay=0.2, decoupled_weight_decay=True, eps=0.1)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.5), weight_decay=0.1)),             # rho_t > 5 from step 2 on
    ("RAdam", dict(lr=0.05, weight_decay=0.3, decoupled_weight_decay=True)),   # rho_t <= 5 for 5 steps
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.7), maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_trajectory_matches_torch(name, kwargs):
    assert_same_trajectory(run_tinycnn(name, kwargs), run_torch(name, kwargs))


# Two groups: different learning rates and one more option overridden in the second group.
GROUP_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9), [dict(lr=0.01), dict(momentum=0.5, dampening=0.2)]),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5), [dict(lr=0.3), dict(lr_decay=0.1, eps=0.2)]),
    ("RMSprop", dict(lr=0.01), [dict(lr=0.002), dict(centered=True, momentum=0.3)]),
    ("Adam", dict(lr=0.05), [dict(lr=0.2), dict(amsgrad=True, betas=(0.9, 0.5), weight_decay=0.1)]),
    ("AdamW", dict(lr=0.05), [dict(lr=0.01), dict(weight_decay=0.5)]),
    ("Adadelta", dict(lr=0.5), [dict(lr=1.0), dict(rho=0.5, weight_decay=0.1)]),
    ("Adamax", dict(lr=0.05), [dict(lr=0.01), dict(betas=(0.5, 0.9))]),
    ("NAdam", dict(lr=0.05), [dict(lr=0.1), dict(momentum_decay=0.02, weight_decay=0.1)]),
    ("RAdam", dict(lr=0.05), [dict(lr=0.1), dict(betas=(0.9, 0.5), decoupled_weight_decay=True,
                                                 weight_decay=0.2)]),
]


@pytest.mark.parametrize("name,kwargs,group_opts", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_param_groups_match_torch(name, kwargs, group_opts):
    assert_same_trajectory(run_tinycnn(name, kwargs, group_opts), run_torch(name, kwargs, group_opts))


RICH = {  # every state buffer of each optimizer in use
    "SGD": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    "Adagrad": dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.5, weight_decay=0.1),
    "RMSprop": dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1),
    "Adam": dict(lr=0.05, amsgrad=True, betas=(0.9, 0.5), weight_decay=0.1),
    "AdamW": dict(lr=0.05, amsgrad=True, weight_decay=0.3),
    "Adadelta": dict(lr=0.5, rho=0.8, weight_decay=0.1),
    "Adamax": dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1),
    "NAdam": dict(lr=0.05, momentum_decay=0.01, weight_decay=0.1),
    "RAdam": dict(lr=0.05, betas=(0.9, 0.5), weight_decay=0.1),
}


def test_adagrad_group_initial_accumulator_value_is_used():
    """Deliberate difference: torch ignores a group's initial_accumulator_value (uses the constructor's)."""
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    opt = optim.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 2.0}],
                        initial_accumulator_value=0.5)
    np.testing.assert_array_equal(opt.state[a]["sum"], [0.5, 0.5])
    np.testing.assert_array_equal(opt.state[b]["sum"], [2.0, 2.0, 2.0])


@pytest.mark.parametrize("name", list(RICH))
def test_params_without_grad_are_skipped_like_torch(name):
    ours = run_tinycnn(name, RICH[name], skip=skip_every_third)
    assert_same_trajectory(ours, run_torch(name, RICH[name], skip=skip_every_third))
    # and the skipped steps really left the parameter alone
    assert np.array_equal(ours[2][1], ours[3][1])


@pytest.mark.parametrize("name", list(RICH))
def test_state_dict_round_trip_through_checkpoint_continues_identically(name, tmp_path):
    kwargs = RICH[name]
    params = [Parameter(x.copy()) for x in INIT]
    opt = getattr(optim, name)([{"params": params[:1], "lr": kwargs["lr"] / 2}, {"params": params[1:]}],
                               **kwargs)
    value, make_grad = (lambda p: p.array), (lambda g: tinycnn.Tensor(g))
    _drive(opt, params, 12, skip_every_third, value, make_grad)
    state = opt.state_dict()
    copied = {i: {k: np.copy(v) for k, v in e.items()} for i, e in state["state"].items()}
    snapshot = [p.array.copy() for p in params]
    tinycnn.save({"optimizer": state}, tmp_path / "opt.npz")
    uninterrupted = _drive(opt, params, 18, skip_every_third, value, make_grad, start=12)

    # the state dict is a snapshot: stepping on did not change it
    for idx, entries in state["state"].items():
        for key, val in entries.items():
            np.testing.assert_array_equal(val, copied[idx][key])

    loaded = tinycnn.load(tmp_path / "opt.npz", as_tensors=False)["optimizer"]
    fresh = [Parameter(x.copy()) for x in snapshot]
    # built with other settings: load_state_dict must restore the groups' hyper-parameters too
    other = dict(kwargs, lr=1.0)
    opt2 = getattr(optim, name)([{"params": fresh[:1]}, {"params": fresh[1:]}], **other)
    opt2.load_state_dict(loaded)
    assert [g["lr"] for g in opt2.param_groups] == [kwargs["lr"] / 2, kwargs["lr"]]
    resumed = _drive(opt2, fresh, 18, skip_every_third, value, make_grad, start=12)
    for a_step, b_step in zip(resumed, uninterrupted):
        for a, b in zip(a_step, b_step):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(RICH))
def test_state_keys_and_step_count_like_torch(name):
    torch = pytest.importorskip("torch")
    params = [Parameter(x.copy()) for x in INIT]
    tparams = [torch.nn.Parameter(torch.from_numpy(x.copy())) for x in INIT]
    ours, theirs = getattr(optim, name)(params, **RICH[name]), getattr(torch.optim, name)(tparams, **RICH[name])
    _drive(ours, params, 4, skip_every_third, lambda p: p.array, lambda g: tinycnn.Tensor(g))
    _drive(theirs, tparams, 4, skip_every_third, lambda p: p.detach().numpy(), lambda g: torch.from_numpy(g))
    a, b = ours.state_dict(), theirs.state_dict()
    assert sorted(a["state"]) == sorted(b["state"])
    for idx in a["state"]:
        assert set(a["state"][idx]) == set(b["state"][idx])
        for key, val in a["state"][idx].items():
            expected = b["state"][idx][key]
            if key == "step":
                assert val == int(expected.item())
            else:
                np.testing.assert_allclose(val, expected.numpy(), rtol=0, atol=1e-12)
    assert a["param_groups"][0]["params"] == b["param_groups"][0]["params"]
    for key in ours.defaults:
        assert a["param_groups"][0][key] == b["param_groups"][0][key], key


@pytest.mark.parametrize("name", list(RICH))
def test_float32_stays_float32_and_tracks_torch(name):
    ours = run_tinycnn(name, RICH[name], steps=8, dtype=np.float32)
    theirs = run_torch(name, RICH[name], steps=8, dtype=np.float32)
    assert all(a.dtype == np.float32 for step in ours for a in step)
    assert_same_trajectory(ours, theirs, atol=2e-5)

    params = [Parameter(x.astype(np.float32)) for x in INIT]
    opt = getattr(optim, name)(params, **RICH[name])
    _drive(opt, params, 3, None, lambda p: p.array, lambda g: tinycnn.Tensor(g.astype(np.float32)))
    for entries in opt.state.values():     # every buffer (NAdam's mu_product is a scalar, not a buffer)
        for key, val in entries.items():
            assert key == "step" or isinstance(val, float) or val.dtype == np.float32, (key, val.dtype)
    # float64 state (e.g. from a float64 run) is cast to the parameters' dtype on load
    state = opt.state_dict()
    for entries in state["state"].values():
        for key in entries:
            if key != "step" and hasattr(entries[key], "dtype"):
                entries[key] = entries[key].astype(np.float64)
    opt.load_state_dict(state)
    assert all(v.dtype == np.float32 for e in opt.state.values() for k, v in e.items()
               if k != "step" and hasattr(v, "dtype"))


def test_zero_grad_and_closure():
    p = Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1)
    p.grad = tinycnn.Tensor(np.array([3.0, 4.0]))
    grad_array = p.grad.array
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and p.grad.array is grad_array and not grad_array.any()
    opt.zero_grad()
    assert p.grad is None
    opt.step()                                    # no gradient: nothing moves
    np.testing.assert_array_equal(p.array, [1.0, -2.0])

    calls = []

    def closure():
        calls.append(tinycnn.is_grad_enabled())
        opt.zero_grad()
        p.grad = tinycnn.Tensor(2 * p.array)      # gradient of sum(p^2)
        return float((p.array ** 2).sum())

    with tinycnn.no_grad():
        loss = opt.step(closure)
    assert calls == [True] and loss == 5.0
    np.testing.assert_allclose(p.array, [1.0 - 0.1 * 2.0, -2.0 + 0.1 * 4.0])


def test_add_param_group_and_module_parameters():
    model = tinycnn.nn.Linear(3, 2)
    a, b = Parameter(np.ones(2)), Parameter(np.zeros(3))
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.5, "name": "head"})   # extra keys are kept, as in torch
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    assert opt.state_dict()["param_groups"][1]["name"] == "head"
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    opt = optim.SGD(model.parameters(), lr=0.1)   # a generator of parameters is accepted
    assert len(opt.param_groups[0]["params"]) == 2
    assert "Adam (" in repr(optim.Adam([a]))


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-0.1), "lr -0.1"),
    (lambda p: optim.SGD(p, momentum=-0.5), "momentum -0.5"),
    (lambda p: optim.SGD(p, weight_decay=-1), "weight_decay -1"),
    (lambda p: optim.SGD(p, nesterov=True), "nesterov"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
    (lambda p: optim.SGD([{"params": p, "lr": -1.0}]), "lr -1.0"),
    (lambda p: optim.Adagrad(p, lr_decay=-0.1), "lr_decay -0.1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value -1"),
    (lambda p: optim.Adagrad(p, eps=-1e-3), "eps -0.001"),
    (lambda p: optim.RMSprop(p, alpha=-0.1), "alpha -0.1"),
    (lambda p: optim.RMSprop(p, momentum=-0.1), "momentum -0.1"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\] 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), r"betas\[1\] -0.1"),
    (lambda p: optim.AdamW(p, eps=-1.0), "eps -1.0"),
    (lambda p: optim.Adam([]), "empty"),
    (lambda p: optim.Adadelta(p, rho=1.5), "rho 1.5"),
    (lambda p: optim.Adadelta(p, lr=-1.0), "lr -1.0"),
    (lambda p: optim.Adamax(p, betas=(0.9, 1.0)), r"betas\[1\] 1.0"),
    (lambda p: optim.NAdam(p, momentum_decay=-0.1), "momentum_decay -0.1"),
    (lambda p: optim.RAdam(p, eps=-1e-8), "eps -1e-08"),
])
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make([Parameter(np.zeros(2))])


def test_type_errors():
    p = Parameter(np.zeros(2))
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="lr must be a real number"):
        optim.SGD([p], lr="0.1")
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})


@pytest.mark.parametrize("name", list(RICH))
def test_cupy_state_lives_on_the_gpu(name):
    """On CuPy parameters the state is made by CuPy, and the trajectory equals the NumPy one."""
    if not tinycnn.backend.cuda_is_available():
        pytest.skip("CuPy with a GPU is not available")
    import cupy
    params = [Parameter(cupy.asarray(x)) for x in INIT]
    opt = getattr(optim, name)(params, **RICH[name])
    gpu = _drive(opt, params, 5, skip_every_third, lambda p: p.array.get(),
                 lambda g: tinycnn.Tensor(cupy.asarray(g)))
    assert all(isinstance(v, cupy.ndarray) for e in opt.state.values() for k, v in e.items() if k != "step")
    assert_same_trajectory(gpu, run_tinycnn(name, RICH[name], steps=5, skip=skip_every_third), atol=1e-12)
    state = opt.state_dict()
    opt.load_state_dict(state)
    assert all(isinstance(v, cupy.ndarray) for e in opt.state.values() for k, v in e.items() if k != "step")


@pytest.mark.parametrize("name", list(RICH))
def test_zero_dim_parameter(name):
    """A 0-d parameter (a learnable scalar) is updated in place like any other, as torch does."""
    torch = pytest.importorskip("torch")
    p, tp = Parameter(np.array(1.5)), torch.nn.Parameter(torch.tensor(1.5, dtype=torch.float64))
    ours, theirs = getattr(optim, name)([p], **RICH[name]), getattr(torch.optim, name)([tp], **RICH[name])
    for t in range(5):
        p.grad = tinycnn.Tensor(np.array(0.7 - 0.3 * t + p.array))
        tp.grad = torch.tensor(0.7 - 0.3 * t + tp.item(), dtype=torch.float64)
        ours.step()
        theirs.step()
    assert isinstance(p.array, np.ndarray) and p.array.shape == ()
    assert abs(float(p.array) - tp.item()) < 1e-12
