"""docs/errors.md, the table of errors a user can meet, is generated from ROWS and checked here.

Each row is a situation, a snippet that provokes it, the exception type and a phrase the message must contain.
The test runs every snippet, checks type and phrase, renders the table with the *actual* messages, and compares
it with docs/errors.md, so the document can never drift from the code. After changing a message:

    python tests/test_errors_table.py --write
"""
from __future__ import annotations

import contextlib
import os
import re
import sys

import numpy as np
import pytest
from PIL import Image

import tinycnn as tc
import tinycnn.nn.functional as F
from tinycnn import Tensor, nn
from tinycnn.models import get_model
from tinycnn.train import TrainConfig
from tinycnn.utils import graph, transfer
from tinycnn.utils.data import DataLoader, TensorDataset
from tinycnn.utils.tensorboard import SummaryWriter
from tinycnn.vision import datasets, transforms

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "errors.md")

# (where, situation, snippet, exception, phrase that must appear in the message)
ROWS = [
    ("tensors", "ragged nested list", "tc.tensor([[1, 2], [3]])", ValueError, "ragged"),
    ("tensors", "gradient on an integer tensor", "tc.tensor([1, 2], requires_grad=True)", TypeError,
     "only floating-point tensors can require gradients"),
    ("tensors", "backward() of a non-scalar", "(tc.randn(3, requires_grad=True) * 2).backward()", RuntimeError,
     "grad can be implicitly created only for scalar outputs"),
    ("tensors", "backward() twice through a freed graph",
     "y = (tc.randn(3, requires_grad=True) * 2).sum(); y.backward(); y.backward()", RuntimeError,
     "retain_graph=True"),
    ("tensors", "shapes that do not broadcast", "tc.randn(4, 3) + tc.randn(3, 4)", tc.ShapeError,
     "cannot be broadcast together"),
    ("tensors", "matmul with misaligned shapes", "tc.randn(4, 3) @ tc.randn(4, 4)", tc.ShapeError, "not aligned"),
    ("tensors", "reshape to the wrong number of elements", "tc.randn(4, 3).reshape(5, 3)", tc.ShapeError,
     "is invalid for input of shape"),
    ("tensors", "cat of tensors whose other dims differ", "tc.cat([tc.randn(2, 3), tc.randn(2, 4)])", tc.ShapeError,
     "sizes of tensors must match except in dim 0"),
    ("tensors", "a dim that does not exist", "tc.randn(4, 3).sum(dim=5)", tc.DimensionError, "out of range"),
    ("tensors", "an index past the end of its dim (gather, scatter, index_select, take)",
     "tc.randn(2, 3).gather(1, tc.tensor([[3]]))", tc.IndexOutOfRangeError, "out of bounds for dimension 1"),
    ("tensors", "bitwise op on floating-point tensors", "tc.randn(3) & tc.randn(3)", TypeError,
     "expected integer or bool tensors"),
    ("tensors", "in-place change of a leaf that requires grad (outside no_grad)",
     "tc.zeros(3, requires_grad=True).add_(1)", RuntimeError,
     "a leaf tensor that requires grad is being used in an in-place operation"),
    ("tensors", "in-place change of a tensor the backward needs",
     "x = tc.ones(3, requires_grad=True); y = x.exp(); y.mul_(2); y.sum().backward()", RuntimeError,
     "modified by an inplace operation"),
    ("tensors", "in-place result that no longer fits the dtype", "tc.tensor([1, 2]).div_(2)", RuntimeError,
     "can't be cast to the desired output type"),
    ("tensors", "unknown device", "tc.randn(2).to('tpu')", ValueError, "unknown device"),
    ("tensors", "a hook on a tensor that does not require grad", "tc.zeros(2).register_hook(print)", RuntimeError,
     "doesn't require gradient"),
    ("layers", "Conv2d fed the wrong number of channels", "nn.Conv2d(3, 16, 3)(tc.randn(8, 1, 28, 28))",
     tc.ShapeError, "expects 3 input channels"),
    ("layers", "Conv2d fed a 3-D image without the batch axis", "nn.Conv2d(1, 6, 5)(tc.randn(1, 28, 28))",
     ValueError, "4-D input"),
    ("layers", "kernel larger than the (padded) input", "nn.Conv2d(1, 6, 5)(tc.randn(1, 1, 3, 3))", ValueError,
     "larger than the padded input"),
    ("layers", "Conv2d groups that do not divide the channels", "nn.Conv2d(6, 6, 3, groups=4)", ValueError,
     "divisible by groups"),
    ("layers", "padding='same' with a stride", "nn.Conv2d(3, 6, 3, stride=2, padding='same')", ValueError,
     "padding='same'"),
    ("layers", "non-positive stride", "nn.Conv2d(3, 6, 3, stride=0)", ValueError, "stride must be positive"),
    ("layers", "pooling padding over half the kernel", "nn.MaxPool2d(2, padding=2)", ValueError,
     "at most half of the kernel"),
    ("layers", "Linear fed the wrong number of features", "nn.Linear(400, 120)(tc.randn(8, 256))", tc.ShapeError,
     "expects input with 400 features"),
    ("layers", "input and weights of different dtypes",
     "nn.Conv2d(1, 6, 5)(tc.randn(1, 1, 28, 28).double())", TypeError, "convert one of them"),
    ("layers", "BatchNorm in training with one value per channel", "nn.BatchNorm1d(3)(tc.randn(1, 3))",
     ValueError, "Expected more than 1 value per channel when training"),
    ("layers", "BatchNorm2d fed the wrong number of channels", "nn.BatchNorm2d(3)(tc.randn(4, 2, 5, 5))",
     tc.ShapeError, "expects 3 channels"),
    ("layers", "ConvTranspose2d output_padding not below the stride",
     "nn.ConvTranspose2d(3, 6, 3, stride=2, output_padding=2)(tc.randn(1, 3, 8, 8))", ValueError,
     "output_padding must be smaller than either stride or dilation"),
    ("layers", "a padding mode ConvTranspose2d does not have", "nn.ConvTranspose2d(3, 6, 3, padding_mode='reflect')",
     ValueError, 'only "zeros" padding mode'),
    ("layers", "LayerNorm over the wrong trailing shape", "nn.LayerNorm(64)(tc.randn(8, 32))", ValueError,
     "expected input with shape [*, 64]"),
    ("layers", "GroupNorm groups that do not divide the channels", "nn.GroupNorm(4, 6)", ValueError,
     "must be divisible by num_groups"),
    ("layers", "reflection padding as wide as the image", "nn.ReflectionPad2d(3)(tc.randn(1, 1, 3, 3))", ValueError,
     "reflect padding"),
    ("layers", "interpolate without a size or a scale factor", "F.interpolate(tc.randn(1, 3, 8, 8))", ValueError,
     "either size or scale_factor"),
    ("layers", "the shape of a lazy layer's weight before the dry run", "nn.LazyLinear(10).weight.shape",
     RuntimeError, "has no shape yet"),
    ("layers", "dropout probability outside [0, 1]", "nn.Dropout(p=1.5)", ValueError,
     "dropout probability p has to be between 0 and 1"),
    ("layers", "loading a state dict with missing or mis-shaped entries",
     "nn.Linear(3, 4).load_state_dict({'weight': np.zeros((3, 3))})", RuntimeError,
     "Error(s) in loading state_dict"),
    ("losses", "class index out of range", "F.cross_entropy(tc.randn(4, 3), tc.tensor([0, 1, 2, 3]))",
     tc.IndexOutOfRangeError, "class index out of range"),
    ("losses", "float targets for cross_entropy", "F.cross_entropy(tc.randn(4, 3), tc.rand(4))", ValueError,
     "expected target to hold class indices"),
    ("losses", "target of another shape", "F.mse_loss(tc.randn(4, 3), tc.randn(3, 3))", tc.ShapeError,
     "expected target of the input's shape"),
    ("losses", "probabilities outside [0, 1] in binary_cross_entropy",
     "F.binary_cross_entropy(tc.tensor([0.5, 1.5]), tc.tensor([0.0, 1.0]))", ValueError,
     "expected input probabilities in [0, 1]"),
    ("losses", "unknown reduction", "F.mse_loss(tc.randn(3), tc.randn(3), reduction='avg')", ValueError,
     "reduction must be one of"),
    ("optimizers", "negative learning rate", "tc.optim.SGD(nn.Linear(2, 2).parameters(), lr=-1)", ValueError,
     "invalid lr"),
    ("optimizers", "empty parameter list", "tc.optim.Adam([], lr=0.1)", ValueError, "empty parameter list"),
    ("optimizers", "Adam betas outside [0, 1)",
     "tc.optim.Adam(nn.Linear(2, 2).parameters(), betas=(1.5, 0.9))", ValueError, "invalid betas"),
    ("optimizers", "Adadelta rho outside [0, 1]", "tc.optim.Adadelta(nn.Linear(2, 2).parameters(), rho=1.5)",
     ValueError, "invalid rho"),
    ("optimizers", "OneCycleLR without its length",
     "tc.optim.lr_scheduler.OneCycleLR(tc.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), max_lr=0.1)",
     ValueError, "either total_steps OR (epochs AND steps_per_epoch)"),
    ("checkpoints", "missing file", "tc.load('runs/missing/last.npz')", tc.CheckpointError, "no such file"),
    ("checkpoints", "truncated or corrupted file (damaged.npz: the first 100 bytes of a checkpoint)",
     "tc.load(damaged)", tc.CheckpointError, "not a readable tinycnn file"),
    ("checkpoints", "values changed after saving (altered.npz)", "tc.load(altered)", tc.CheckpointError,
     "checksum mismatch"),
    ("checkpoints", "a file with pickled objects (pickled.npz)", "tc.load(pickled)", tc.CheckpointError,
     "not a readable tinycnn file"),
    ("checkpoints", "saving something that is not an array, number, string or container",
     "tc.save({'f': print}, 'x.npz')", TypeError, "cannot store an object of type"),
    ("models", "unknown model name", "get_model('resnet999')", ValueError, "resnet999"),
    ("models", "a paper's fixed-size network fed another size", "get_model('lenet5_1998')(tc.randn(1, 1, 32, 32))",
     ValueError, "expects input of shape (N, 1, 28, 28)"),
    ("models", "training only a layer the model does not have",
     "transfer.freeze(get_model('lenet5'), train_only=['fc'])", ValueError, "has no layer named fc"),
    ("models", "weights from a file that is not there", "transfer.load_weights('resnet18.pth')",
     tc.CheckpointError, "no such file"),
    ("models", "pretrained weights of another shape",
     "transfer.load_pretrained(get_model('lenet5'), get_model('lenet5', num_classes=3).state_dict())",
     RuntimeError, "shape mismatch"),
    ("data", "a dataset whose files are missing", "datasets.MNIST('nowhere', train=False)", FileNotFoundError,
     "download=True"),
    ("data", "a CIFAR archive that is truncated or altered (cifar/ holds a damaged cifar-10-python.tar.gz)",
     "datasets.CIFAR10(cifar)", datasets.DataFileError, "checksum mismatch"),
    ("data", "an image folder without class subfolders (flat/ holds a.png)", "datasets.ImageFolder(flat)",
     FileNotFoundError, "no class folders found"),
    ("data", "a file that is not an image (fake.png)", "datasets.pil_loader(fake)", datasets.ImageFileError,
     "not an image file"),
    ("data", "Normalize given a PIL image", "transforms.Normalize((0.5,), (0.5,))(Image.new('L', (2, 2)))",
     TypeError, "put ToTensor() before Normalize"),
    ("data", "PIL images reaching the DataLoader (no ToTensor)", "next(iter(DataLoader(datasets.MNIST(train=False))))",
     TypeError, "add transforms.ToTensor()"),
    ("data", "DataLoader with both shuffle and a sampler",
     "DataLoader(TensorDataset(np.zeros(4)), shuffle=True, sampler=[0, 1])", ValueError, "mutually exclusive"),
    ("training", "unknown optimizer name", "TrainConfig(optimizer='adamax').validate()", ValueError,
     "optimizer: expected one of"),
    ("training", "non-finite loss (e.g. `--lr 1e30`)", "(training)", None,
     "non-finite loss (nan) at epoch 1, step 2: training stopped; the last good checkpoint is kept in "
     "runs/lenet5/last.npz (try a smaller --lr)"),
    ("graphs and logs", "drawing a tensor with no graph", "graph.Graph(tc.randn(3))", ValueError,
     "has no recorded graph"),
    ("graphs and logs", "drawing after backward() freed the graph",
     "y = (tc.randn(3, requires_grad=True) * 2).sum(); y.backward(); graph.Graph(y)", RuntimeError,
     "freed by backward()"),
    ("graphs and logs", "rendering where Graphviz's dot program is missing (`no_dot()` empties PATH)",
     "with no_dot(): graph.Graph((tc.randn(2, requires_grad=True) * 2).sum()).save('graph.svg')",
     graph.DotNotFoundError, "the DOT text is in graph.dot"),
    ("graphs and logs", "a log folder that cannot be created (good.npz is a file)",
     "SummaryWriter('good.npz/logs')", NotADirectoryError, "cannot write to the log folder"),
]

# The command line: (situation, command, exit status, phrase of the one line it prints on stderr). A phrase
# of None marks a situation documented only (it needs a GPU-less machine, a full disk, a second process...):
# its message column is the literal text, checked by tests/test_cli_errors.py, tests/test_run_folder.py and
# tests/test_train_logs.py.
CLI_ROWS = [
    ("a limit that is not a positive number", "tinycnn train --train-limit 0", 2,
     "--train-limit: expected a positive number of images, got 0"),
    ("an image size the model cannot take", "tinycnn train --input-size 8", 2, "lenet5 cannot take 8x8 images"),
    ("an argument that is not a number", "tinycnn train --epochs three", 2, "invalid int value: 'three'"),
    ("`--freeze-backbone` without `--pretrained`", "tinycnn train --freeze-backbone", 2, "needs --pretrained"),
    ("`--pretrained` weights that cannot be read", "tinycnn train --pretrained damaged.npz", 2,
     "--pretrained: damaged.npz: not a readable tinycnn file"),
    ("`--pretrained` and `--init-from` together", "tinycnn train --pretrained run/best.npz --init-from run", 2,
     "--init-from: cannot be combined with --pretrained"),
    ("`--train-last`, `--train-only` or `--add-head` without weights", "tinycnn train --train-last 2", 2,
     "--train-last: needs --pretrained or --init-from weights"),
    ("a layer name the model lacks", "tinycnn train --init-from run --train-only fc --out other", 2,
     "--train-only: lenet5 has no layer named fc (its layers: 0, 3, 7, 9, 11)"),
    ("an image size below the model's smallest", "tinycnn train inception_v3 --input-size 64", 2,
     "--input-size: inception_v3 takes images of at least 299x299 in training, got 64x64"),
    ("a folder without the data set", "tinycnn train --data-root empty", 2,
     "MNIST: train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz not found"),
    ("a new run into a folder that holds a run", "tinycnn train --out run", 2, "already holds a run"),
    ("`--resume` with other settings", "tinycnn train --out run --resume --optimizer sgd --lr 0.5", 2,
     "was trained with other settings: --optimizer saved adam, given sgd; --lr saved 0.002, given 0.5"),
    ("`--resume` of a folder without a run", "tinycnn train --out empty --resume", 2, "holds no run to resume"),
    ("a run folder in use by another process", "tinycnn train --out run", 2, None,
     "tinycnn train: run is in use by process 4242 (tinycnn train --out run, since 2026-01-01T10:00:00+00:00): "
     "wait for it to finish (or stop it), or use another --out"),
    ("a folder that cannot be written", "tinycnn train --out /read-only/run", 2, None,
     "tinycnn train: cannot create the run folder /read-only/run: Read-only file system; choose a folder you "
     "can write to with --out"),
    ("the disk fills up while a checkpoint is saved", "tinycnn train --out run --resume --epochs 2", 2, None,
     "tinycnn train: no space left on the device to write run/best.npz: epoch 2 could not be saved; "
     "run/last.npz still holds epoch 1, intact; free some space, then continue with "
     "`tinycnn train --out run --resume`"),
    ("`--device cuda` on a machine without a GPU", "tinycnn train --device cuda", 2, None,
     "tinycnn train: --device: cuda needs a GPU and CuPy (pip install 'tinycnn[gpu]'), and none was found; "
     "use --device cpu"),
    ("a damaged Numba kernel cache", "tinycnn train", 2, None,
     "tinycnn train: the Numba kernel cache in tinycnn/accel/__pycache__ is damaged (UnpicklingError: pickle "
     "data was truncated): delete its files (rm tinycnn/accel/__pycache__/*.nb[ic]) and run again; the kernels "
     "are compiled again on first use (or point NUMBA_CACHE_DIR at an empty folder)"),
    ("the loss stops being finite", "tinycnn train --optimizer sgd --lr 1e30", 1, None,
     "tinycnn train: non-finite loss (nan) at epoch 1, step 2: training stopped; no epoch had completed, so no "
     "checkpoint (try a smaller --lr)"),
    ("eval of a missing checkpoint", "tinycnn eval missing.npz", 2, "missing.npz: no such file"),
    ("eval of a file that is not a training checkpoint", "tinycnn eval good.npz", 2,
     "good.npz: a tinycnn file, but not a training checkpoint"),
    ("an image folder without class folders", "tinycnn train --dataset folder --data-dir flat", 2,
     "flat: no class folders found"),
    ("a truncated or altered CIFAR archive", "tinycnn train --dataset cifar10 --data-dir cifar", 2,
     "cifar/cifar-10-python.tar.gz: checksum mismatch (SHA256 of the file)"),
    ("predict on a file that is not an image", "tinycnn predict run fake.png", 2,
     "fake.png: not an image file Pillow can read"),
    ("predict on a missing image", "tinycnn predict run missing.png", 2, "missing.png: file is missing"),
    ("an unknown model", "tinycnn summary resnet999", 2, "MODEL: unknown model 'resnet999'"),
    ("`--tensorboard` into a folder that cannot be written", "tinycnn train --tensorboard good.npz/logs", 2,
     "--tensorboard: expected a folder you can write to"),
    ("`--tensorboard` where the tensorboard package is missing", "tinycnn train --tensorboard", 2, None,
     "tinycnn train: --tensorboard: writing TensorBoard's event files needs the tensorboard package (No module "
     "named 'tensorboard'): pip install tensorboard (or pip install 'tinycnn[tensorboard]')"),
]


@contextlib.contextmanager
def no_dot():
    """PATH without Graphviz's dot, for the row that shows the message a machine without it gets."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = ""
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def _files(folder):
    """The damaged files the checkpoint rows load, made in ``folder``."""
    good = os.path.join(folder, "good.npz")
    tc.save({"w": np.arange(6.0)}, good)
    raw = open(good, "rb").read()
    damaged = os.path.join(folder, "damaged.npz")
    open(damaged, "wb").write(raw[:100])
    altered = os.path.join(folder, "altered.npz")
    with np.load(good) as npz:
        members = {k: npz[k] for k in npz.files}
    members["a0"] = members["a0"] + 1
    np.savez(altered, **members)
    pickled = os.path.join(folder, "pickled.npz")
    np.savez(pickled, a0=np.array([{"any": "object"}], dtype=object), **{k: v for k, v in members.items()
                                                                         if k != "a0"})
    cifar = os.path.join(folder, "cifar")
    os.makedirs(cifar, exist_ok=True)
    with open(os.path.join(cifar, "cifar-10-python.tar.gz"), "wb") as f:
        f.write(b"\x1f\x8b" + bytes(range(64)))
    flat = os.path.join(folder, "flat")
    os.makedirs(flat, exist_ok=True)
    Image.new("RGB", (2, 2)).save(os.path.join(flat, "a.png"))
    fake = os.path.join(folder, "fake.png")
    with open(fake, "w") as f:
        f.write("not a picture")
    return {"damaged": damaged, "altered": altered, "pickled": pickled, "cifar": cifar, "flat": flat, "fake": fake}


def run_row(snippet, folder):
    """Run a snippet in ``folder`` (so relative paths land there); return the exception it raised."""
    namespace = {"tc": tc, "nn": nn, "F": F, "np": np, "Tensor": Tensor, "get_model": get_model,
                 "TrainConfig": TrainConfig, "graph": graph, "SummaryWriter": SummaryWriter, "no_dot": no_dot,
                 "transfer": transfer, "datasets": datasets, "transforms": transforms, "Image": Image,
                 "DataLoader": DataLoader, "TensorDataset": TensorDataset, **_files(folder)}
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        exec(snippet, namespace)
    except Exception as exc:  # noqa: BLE001  (each row names the exception its snippet raises)
        return exc
    finally:
        os.chdir(cwd)
    return None


def _cli_files(folder):
    """What the command-line rows use, made in ``folder`` once: a finished small run, an empty folder."""
    if not os.path.isdir(os.path.join(folder, "run")):
        from tinycnn.train import train
        train(TrainConfig(out=os.path.join(folder, "run"), epochs=1, train_limit=64, test_limit=16, batch_size=32,
                          progress=False))
    os.makedirs(os.path.join(folder, "empty"), exist_ok=True)
    _files(folder)


def run_cli_row(command: str, folder):
    """Run ``tinycnn ARGS`` in-process in ``folder``: (exit status, what it printed on stderr)."""
    import contextlib
    import io
    import shlex

    from tinycnn.cli import main
    _cli_files(folder)
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(shlex.split(command)[1:])
            except SystemExit as exc:
                code = exc.code
    finally:
        os.chdir(cwd)
    return code, err.getvalue().strip()


def _message(exc, folder):
    text = str(exc).replace(folder + os.sep, "").replace("\n", " ").replace("|", "\\|")
    # lists that grow as the library does (model names) are cut, so adding a model keeps the table true
    return text.split("; available: ")[0] + ("; available: ..." if "; available: " in text else "")


def render(folder) -> str:
    lines = ["# Errors you can meet, and what they say", "",
             "Generated by `python tests/test_errors_table.py --write` and checked by that test, which runs "
             "every snippet: the messages below are the library's actual messages.", "",
             "Every error raised on bad input is a `ValueError` or `TypeError` that names the layer or "
             "function, what it expected and what it got; damaged checkpoint files raise "
             "`tinycnn.CheckpointError` naming the file; training stops on a non-finite loss with "
             "`tinycnn.train.TrainingError` naming the epoch and the step; the command line's errors are one "
             "line each, listed at the end.", "",
             "Where PyTorch raises `IndexError` or `RuntimeError`, ported code catches those, so ours are "
             "caught by the same `except` clause (and still by `except ValueError`): shapes that do not fit "
             "together raise `tinycnn.ShapeError` (a `RuntimeError` and a `ValueError`), a dim out of range "
             "`tinycnn.DimensionError` (an `IndexError` and a `ValueError`), an index past the end of its dim "
             "or a class index past the classes `tinycnn.IndexOutOfRangeError` (an `IndexError`, a "
             "`RuntimeError` and a `ValueError`). They live in `tinycnn.errors`.", ""]
    section = None
    for where, situation, snippet, exc_type, phrase in ROWS:
        if where != section:
            lines += ["", f"## {where.capitalize()}", "", "| situation | code | error | message |",
                      "|---|---|---|---|"]
            section = where
        if exc_type is None:   # documented only (a run would take seconds): the literal message
            name, message = "TrainingError", phrase
        else:
            exc = run_row(snippet, folder)
            name, message = type(exc).__name__, _message(exc, folder)
        lines.append(f"| {situation} | `{snippet}` | `{name}` | {message} |")
    lines += ["", "## Command line", "",
              "A user's mistake ends in one line on stderr that names the argument or file and says what to do, "
              "with exit status 2 (1 when the training diverged); `--debug` adds the Python traceback. Only a bug "
              "in tinycnn shows a traceback by itself.", "",
              "| situation | command | exit status | message |", "|---|---|---|---|"]
    for situation, command, code, phrase, *literal in CLI_ROWS:
        if phrase is None:
            message = literal[0]
        else:
            code, message = run_cli_row(command, folder)
        message = message.replace(folder + os.sep, "").replace("|", "\\|")
        # the guesses for an unknown name change as models are added: cut, as the lists above are
        message = re.sub(r"; did you mean [^?]*\?", "; did you mean ...?", message)
        lines.append(f"| {situation} | `{command}` | {code} | {message} |")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("row", ROWS, ids=[r[1][:40] for r in ROWS])
def test_row_raises_what_the_table_says(row, tmp_path):
    where, situation, snippet, exc_type, phrase = row
    if exc_type is None:
        pytest.skip("documented message, checked by tests/test_faults.py")
    exc = run_row(snippet, str(tmp_path))
    assert exc is not None, f"{snippet!r} raised nothing"
    assert isinstance(exc, exc_type), f"{snippet!r} raised {type(exc).__name__}: {exc}"
    assert phrase in str(exc), f"{snippet!r}: {phrase!r} not in {str(exc)!r}"


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("cli"))
    _cli_files(folder)
    return folder


@pytest.mark.parametrize("row", [r for r in CLI_ROWS if r[3] is not None], ids=lambda r: r[1])
def test_cli_row_prints_what_the_table_says(row, cli_folder):
    situation, command, code, phrase = row
    before = sorted(os.listdir(cli_folder)), sorted(os.listdir(os.path.join(cli_folder, "run")))
    exit_status, message = run_cli_row(command, cli_folder)
    assert exit_status == code, f"{command}: exit {exit_status}: {message}"
    assert len(message.splitlines()) == 1 and message.startswith(f"tinycnn {command.split()[1]}: "), message
    assert phrase in message, f"{command}: {phrase!r} not in {message!r}"
    after = sorted(os.listdir(cli_folder)), sorted(os.listdir(os.path.join(cli_folder, "run")))
    assert after == before, "the command left files behind"


def test_errors_md_is_up_to_date(cli_folder):
    expected = render(cli_folder)
    assert os.path.exists(DOC), "docs/errors.md is missing: run python tests/test_errors_table.py --write"
    with open(DOC) as f:
        assert f.read() == expected, "docs/errors.md is stale: run python tests/test_errors_table.py --write"


if __name__ == "__main__":
    import tempfile
    if "--write" not in sys.argv:
        sys.exit("usage: python tests/test_errors_table.py --write")
    with tempfile.TemporaryDirectory() as folder:
        text = render(os.path.realpath(folder))
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC, "w") as f:
        f.write(text)
    print(f"wrote {DOC}")
