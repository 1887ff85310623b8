"""tinycnn.optim.lr_scheduler: the learning-rate sequences equal PyTorch's get_last_lr(), state dicts resume."""
import numpy as np
import pytest

import tinycnn
from tinycnn import optim
from tinycnn.nn import Parameter
from tinycnn.optim import lr_scheduler

EPOCHS = 30
LRS = (0.1, 0.03)

CASES = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[20, 3, 7, 7], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=EPOCHS)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),      # past T_max: climbs back, PyTorch's way
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e + 0.01 * e)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.9 ** e])),      # one per group
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9 if e % 2 else 0.97)),
    ("ConstantLR", dict()),
    ("ConstantLR", dict(factor=0.5, total_iters=3)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.7, total_iters=7)),
    ("PolynomialLR", dict(total_iters=8, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=EPOCHS)),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=EPOCHS + 1, pct_start=0.25, anneal_strategy="linear",
                        three_phase=True)),
    ("OneCycleLR", dict(max_lr=0.5, epochs=3, steps_per_epoch=10, cycle_momentum=False, div_factor=10.0,
                        final_div_factor=100.0)),
]


def _case_id(name, kwargs):
    """A test id that is the same in every worker process (a function's repr holds its address)."""
    shown = {k: ("fn" if callable(v) else "[fn, ...]" if isinstance(v, list) and callable(v[0]) else v)
             for k, v in kwargs.items()}
    return f"{name}-{shown}"


def ours_optimizer(lrs=LRS):
    return optim.SGD([{"params": [Parameter(np.zeros(2))], "lr": lrs[0]},
                      {"params": [Parameter(np.zeros(3))], "lr": lrs[1]}], lr=1.0, momentum=0.9)


def lr_sequence(optimizer, scheduler, epochs):
    """get_last_lr() after construction and after each of ``epochs`` epochs, and the groups' lr."""
    seq = [scheduler.get_last_lr()]
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
        seq.append(scheduler.get_last_lr())
        assert [g["lr"] for g in optimizer.param_groups] == seq[-1]
    return seq


def torch_sequence(name, kwargs, epochs=EPOCHS):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": LRS[0]},
                           {"params": [torch.nn.Parameter(torch.zeros(3))], "lr": LRS[1]}], lr=1.0, momentum=0.9)
    return lr_sequence(opt, getattr(torch.optim.lr_scheduler, name)(opt, **kwargs), epochs)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[_case_id(n, k) for n, k in CASES])
def test_sequence_equals_torch(name, kwargs):
    opt = ours_optimizer()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    ours = lr_sequence(opt, sched, EPOCHS)
    theirs = torch_sequence(name, kwargs)
    assert ours == theirs                         # the same floating-point operations: bit for bit
    assert sched.last_epoch == EPOCHS
    if name != "OneCycleLR":                      # OneCycleLR sets initial_lr = max_lr / div_factor
        assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)


def test_sequence_is_the_closed_form():
    """Independent of torch: the recursive forms follow the closed formulas."""
    opt = ours_optimizer()
    cos = lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=0.002)
    seq = lr_sequence(opt, cos, 12)
    for e, lrs in enumerate(seq):
        for base, lr in zip(LRS, lrs):
            assert lr == pytest.approx(0.002 + (base - 0.002) * (1 + np.cos(np.pi * e / 12)) / 2, rel=1e-12)
    opt = ours_optimizer()
    seq = lr_sequence(opt, lr_scheduler.MultiStepLR(opt, [2, 5, 5], gamma=0.5), 7)
    assert [s[0] for s in seq] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.0125, 0.0125, 0.0125])


@pytest.mark.parametrize("name,kwargs", CASES, ids=[_case_id(n, k) for n, k in CASES])
def test_state_dict_round_trip_through_checkpoint(name, kwargs, tmp_path):
    opt = ours_optimizer()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    lr_sequence(opt, sched, 10)
    tinycnn.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ck.npz")
    rest = lr_sequence(opt, sched, EPOCHS - 10)

    loaded = tinycnn.load(tmp_path / "ck.npz", as_tensors=False)
    opt2 = ours_optimizer()                        # built as at the start, then restored
    sched2 = getattr(lr_scheduler, name)(opt2, **kwargs)
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    assert sched2.last_epoch == 10
    assert lr_sequence(opt2, sched2, EPOCHS - 10) == rest
    assert rest == torch_sequence(name, kwargs)[10:]


def test_resume_with_last_epoch_needs_initial_lr():
    opt = ours_optimizer()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=3, last_epoch=4)
    lr_scheduler.StepLR(opt, step_size=3)          # sets initial_lr
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5, last_epoch=4)
    assert sched.last_epoch == 5 and sched.base_lrs == list(LRS)


def test_errors():
    opt = ours_optimizer()
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="milestones must be integers"):
        lr_scheduler.MultiStepLR(opt, milestones=[1.5])
    with pytest.raises(ValueError, match="last_epoch"):
        lr_scheduler.ExponentialLR(opt, gamma=0.9, last_epoch=-2)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    with pytest.raises(ValueError, match="unexpected keys"):
        sched.load_state_dict({"last_epoch": 3, "bogus": 1})
    assert "ExponentialLR(gamma=0.9" in repr(sched)


def _sequential(lib, opt):
    S = lib.lr_scheduler
    return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(opt, T_max=10),
                                S.ExponentialLR(opt, 0.9)], milestones=[5, 12])


def _sequential_classic(lib, opt):
    S = lib.lr_scheduler
    return S.SequentialLR(opt, [S.ConstantLR(opt, factor=0.2, total_iters=3), S.StepLR(opt, 4, 0.5),
                                S.MultiStepLR(opt, [2, 5], 0.3)], milestones=[3, 15])


def _chained(lib, opt):
    S = lib.lr_scheduler
    return S.ChainedScheduler([S.ConstantLR(opt, factor=0.2, total_iters=3), S.ExponentialLR(opt, 0.9)])


def _torch_optimizer(torch):
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": LRS[0]},
                            {"params": [torch.nn.Parameter(torch.zeros(3))], "lr": LRS[1]}], lr=1.0, momentum=0.9)


@pytest.mark.parametrize("build", [_sequential, _sequential_classic, _chained])
def test_composite_schedulers_equal_torch_and_resume(torch, build, tmp_path):
    opt = ours_optimizer()
    ours = lr_sequence(opt, sched := build(optim, opt), EPOCHS)
    t_opt = _torch_optimizer(torch)
    assert ours == lr_sequence(t_opt, build(torch.optim, t_opt), EPOCHS)
    # resume half-way from a checkpoint
    opt = ours_optimizer()
    sched = build(optim, opt)
    lr_sequence(opt, sched, 10)
    tinycnn.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ck.npz")
    loaded = tinycnn.load(tmp_path / "ck.npz", as_tensors=False)
    opt2 = ours_optimizer()
    sched2 = build(optim, opt2)
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    assert lr_sequence(opt2, sched2, EPOCHS - 10)[1:] == ours[11:]


METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.96, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7] + [0.9] * 18


@pytest.mark.parametrize("kwargs", [dict(patience=2), dict(mode="max", factor=0.5, patience=1, cooldown=2,
                                                            min_lr=[0.01, 0.001]),
                                    dict(threshold_mode="abs", threshold=0.05, patience=0, eps=0.05)])
def test_reduce_lr_on_plateau_equals_torch_and_resumes(torch, kwargs, tmp_path):
    def run(opt, sched, metrics):
        out = []
        for m in metrics:
            opt.step()
            sched.step(m)
            out.append(sched.get_last_lr())
        return out
    opt = ours_optimizer()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    ours = run(opt, sched, METRICS)
    t_opt = _torch_optimizer(torch)
    assert ours == run(t_opt, torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs), METRICS)
    assert isinstance(sched, lr_scheduler.LRScheduler)
    opt = ours_optimizer()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    run(opt, sched, METRICS[:8])
    tinycnn.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ck.npz")
    loaded = tinycnn.load(tmp_path / "ck.npz", as_tensors=False)
    opt2 = ours_optimizer()
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2, **kwargs)
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    assert run(opt2, sched2, METRICS[8:]) == ours[8:]
    epoch = sched2.last_epoch
    sched2.step(tinycnn.tensor(0.1))               # a 0-d tensor metric (a loss) is accepted
    assert sched2.last_epoch == epoch + 1


def test_one_cycle_cycles_momentum_and_beta1_like_torch(torch):
    for make_ours, make_theirs, key in [
            (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
             "momentum"),
            (lambda ps: optim.Adam(ps, lr=0.1), lambda ps: torch.optim.Adam(ps, lr=0.1), "betas")]:
        opt, t_opt = make_ours([Parameter(np.zeros(2))]), make_theirs([torch.nn.Parameter(torch.zeros(2))])
        s = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=20)
        t = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=1.0, total_steps=20)
        for _ in range(19):
            opt.step()
            t_opt.step()
            s.step()
            t.step()
            assert opt.param_groups[0][key] == t_opt.param_groups[0][key]
            assert opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"]


def test_new_scheduler_errors():
    opt = ours_optimizer()
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="should be a function"):
        lr_scheduler.MultiplicativeLR(opt, 0.9)
    with pytest.raises(ValueError, match="start_factor must be a number in"):
        lr_scheduler.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="factor must be a number in"):
        lr_scheduler.ConstantLR(opt, factor=1.5)
    with pytest.raises(ValueError, match="positive integer T_0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="either total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Adagrad([Parameter(np.zeros(1))]), max_lr=0.1, total_steps=5)
    sched = lr_scheduler.OneCycleLR(ours_optimizer(), max_lr=0.1, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="tried to step 3 times"):
        sched.step()
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], milestones=[3])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt), lr_scheduler.StepLR(opt, 2)], [2])
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode 'up' is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    lam = lr_scheduler.LambdaLR(ours_optimizer(), lambda e: 1.0)
    assert lam.state_dict()["lr_lambdas"] == [None, None]      # plain functions are not saved, as in PyTorch
