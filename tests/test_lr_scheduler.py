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
]


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


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_sequence_equals_torch(name, kwargs):
    opt = ours_optimizer()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    ours = lr_sequence(opt, sched, EPOCHS)
    theirs = torch_sequence(name, kwargs)
    assert ours == theirs                         # the same floating-point operations: bit for bit
    assert sched.last_epoch == EPOCHS
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


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
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
