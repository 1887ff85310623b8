"""A user's mistake on the command line ends in one line on stderr, naming the argument or file and what to
do, with exit status 2, before any work; only bugs show a traceback (and ``--debug`` shows it for the rest).
Out of space, the previous checkpoint stays intact and the run resumes; a read-only folder is named; a
damaged Numba kernel cache gets a message saying how to clear it."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
from cli_runs import (SMALL, assert_same_weights, checkpoint, copy_run, env, snapshot, tinycnn_cli, train_ok,
                      user_error)

import tinycnn
from tinycnn.cli import main
from tinycnn.train_settings import label, specs


def _one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "epoch " not in captured.out, "training started before the error was found"
    return lines[0]


# ---- every argument is checked before any work -------------------------------------------------------------------
BAD_ARGUMENTS = [
    (["--train-limit", "0"], "--train-limit: expected a positive number of images, got 0"),
    (["--train-limit", "-5"], "--train-limit: expected a positive number of images, got -5"),
    (["--test-limit", "-1"], "--test-limit: expected a positive number of images, got -1"),
    (["--input-size", "0"], "--input-size: expected an image side from 1 to 1024 pixels, got 0"),
    (["--input-size", "8"], "--input-size: lenet5 cannot take 8x8 images: Conv2d(6, 16): kernel 5x5"),
    (["--input-size", "32"], "--input-size: lenet5 cannot take 32x32 images: Linear(in_features=400"),
    (["--epochs", "0"], "--epochs: expected a positive integer, got 0"),
    (["--batch-size", "0"], "--batch-size: expected a positive integer, got 0"),
    (["--lr", "0"], "--lr: expected a positive finite number, got 0.0"),
    (["--lr", "inf"], "--lr: expected a positive finite number, got inf"),
    (["--weight-decay", "-1"], "--weight-decay: expected a finite number >= 0, got -1.0"),
    (["--seed", "-1"], "--seed: expected an integer from 0 to 2**63 - 1, got -1"),
    (["--freeze-backbone"], "--freeze-backbone: needs --pretrained weights"),
    (["--pretrained", "missing.pth"], "--pretrained: expected an existing weights file, got 'missing.pth'"),
    (["--data-root", "missing"], "--data-root: expected an existing folder, got 'missing'"),
    (["--variant", "gothic"], "--variant: lenet5: variant must be one of ('classic', 'modern'), got 'gothic'"),
    (["resnet18", "--variant", "classic"], "--variant: resnet18 has no variants"),
    (["resnet17"], "MODEL: unknown model 'resnet17'; did you mean resnet18"),
    (["--device", "tpu"], "--device: expected cpu or cuda, got 'tpu'"),
    (["resnet18_small", "--batch-size", "1"], "--batch-size: expected at least 2: resnet18_small has BatchNorm"),
    (["--epochs", "three"], "argument --epochs: invalid int value: 'three' (see `tinycnn train --help`)"),
    (["--optimizer", "adamax"], "argument --optimizer: invalid choice: 'adamax'"),
]


@pytest.mark.parametrize("args,message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_naming_it_before_any_work(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["train", *args, "--out", "run", "--no-progress"])
    except SystemExit as exc:              # argparse's own errors (not a number, not a choice)
        code = exc.code
    assert code == 2
    line = _one_line(capsys)
    assert line.startswith("tinycnn train: ") and message in line, line
    assert not (tmp_path / "run").exists(), "the run folder was left behind"


@pytest.mark.parametrize("args", [["--train-limit", "-5"], ["--input-size", "8"]], ids=["limit", "size"])
def test_the_command_itself_prints_no_traceback(args, tmp_path):
    message = user_error(tinycnn_cli("train", *args, "--out", "run", cwd=tmp_path))
    assert message.startswith(f"tinycnn train: {args[0]}: ")
    assert not (tmp_path / "run").exists()


def test_device_cuda_without_a_gpu_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    if tinycnn.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--device", "cuda", "--out", "run"]) == 2
    assert "--device: cuda needs a GPU and CuPy" in _one_line(capsys)
    assert main(["eval", "whatever.npz", "--device", "cuda"]) == 2
    assert "--device: cuda needs a GPU" in _one_line(capsys)


def test_debug_shows_the_traceback_and_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    proc = tinycnn_cli("train", "--train-limit", "0", "--debug", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ConfigError: train_limit:" in proc.stderr
    from tinycnn import train

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in tinycnn")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train, "build_datasets", broken)
    with pytest.raises(ZeroDivisionError):
        main(["train", "--out", "run", "--no-progress"])
    assert not (tmp_path / "run").exists()


def test_a_missing_data_set_is_one_line_naming_the_files(tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data-root", "empty", "--out", "run", "--no-progress"]) == 2
    line = _one_line(capsys)
    assert "MNIST: train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz not found" in line
    assert "looked in: empty/MNIST/raw, empty" in line
    assert not (tmp_path / "run").exists()


def test_pretrained_files_that_are_not_weights_are_named(reference_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.pth").write_bytes(b"not a pickle at all")
    assert main(["train", "--pretrained", "weights.pth", "--out", "run", "--no-progress"]) == 2
    assert "--pretrained weights.pth: cannot read the weights" in _one_line(capsys)
    (tmp_path / "weights.npz").write_text("{}")
    assert main(["train", "--pretrained", "weights.npz", "--out", "run", "--no-progress"]) == 2
    assert "--pretrained: weights.npz: not a tinycnn file" in _one_line(capsys)
    tinycnn.save({"fc.weight": tinycnn.zeros(3, 3)}, "other.npz")
    assert main(["train", "--pretrained", "other.npz", "--out", "run", "--no-progress"]) == 2
    assert "--pretrained other.npz: the weights do not fit lenet5: Error(s) in loading state_dict" in \
        _one_line(capsys)
    assert not (tmp_path / "run").exists()


# ---- help ------------------------------------------------------------------------------------------------------------
def test_train_help_shows_every_default_and_points_at_a_command_that_exists(tmp_path):
    proc = tinycnn_cli("train", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    entries = []                          # the options section: one entry per option, continuation lines joined
    for line in proc.stdout.split("options:")[1].splitlines():
        if line.startswith("  -"):
            entries.append(line.strip())
        elif entries and line.strip():
            entries[-1] += " " + line.strip()
    switches = ("-h", "--debug", "--resume", "--distributed", *(label(n) for n, spec in specs().items() if spec.switch))
    assert len(entries) > 15
    for entry in entries:
        if not entry.startswith(switches):
            assert "(default: " in " ".join(entry.split()), entry
    assert "`tinycnn summary --list`" in proc.stdout and "may change on --resume" in proc.stdout
    listing = tinycnn_cli("summary", "--list", cwd=tmp_path)
    assert listing.returncode == 0
    assert {"lenet5", "resnet18", "mobilenet_v2"} <= set(listing.stdout.split())


def test_summary_errors_are_one_line(capsys):
    assert main(["summary", "resnet999"]) == 2
    assert "tinycnn summary: MODEL: unknown model 'resnet999'" in _one_line(capsys)
    assert main(["summary", "lenet5", "--input-size", "1", "8", "8"]) == 2
    assert "tinycnn summary: --input-size: lenet5 cannot take an input of 1 x 8 x 8" in _one_line(capsys)
    assert main(["summary", "resnet18", "--variant", "classic"]) == 2
    assert "--variant: resnet18 has no variants" in _one_line(capsys)


# ---- eval ------------------------------------------------------------------------------------------------------------
def test_eval_names_a_missing_truncated_or_foreign_checkpoint(reference_runs, tmp_path, monkeypatch, capsys):
    raw = open(os.path.join(reference_runs["one"], "last.npz"), "rb").read()
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    tinycnn.save({"weight": tinycnn.zeros(2)}, tmp_path / "state_dict.npz")
    (tmp_path / "model.pth").write_bytes(b"PK\x03\x04 a torch zip")
    message = user_error(tinycnn_cli("eval", "missing.npz", cwd=tmp_path))
    assert message == "tinycnn eval: missing.npz: no such file"
    monkeypatch.chdir(tmp_path)
    for name, phrase in [("truncated.npz", "truncated.npz: not a readable tinycnn file (truncated or corrupted?)"),
                         ("state_dict.npz", "state_dict.npz: a tinycnn file, but not a training checkpoint"),
                         ("model.pth", "model.pth: not a readable tinycnn file")]:
        assert main(["eval", name]) == 2
        assert phrase in _one_line(capsys)
    assert main(["eval", os.path.join(reference_runs["one"], "last.npz"), "--test-limit", "0"]) == 2
    assert "--test-limit: expected a positive number of images, got 0" in _one_line(capsys)


# ---- full disk, read-only folder -----------------------------------------------------------------------------------
def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit then fails with EFBIG
    import resource
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_a_checkpoint_that_cannot_be_written_is_named_and_the_run_resumes(reference_runs, tmp_path):
    """A file size limit smaller than a checkpoint: epoch 2's save fails; the message names the file and says
    how to resume, last.npz still holds epoch 1, nothing half-written is left, and the resume completes."""
    run = copy_run(reference_runs["one"], tmp_path / "run")
    proc = subprocess.run([sys.executable, "-m", "tinycnn", "train", "--out", run, "--resume", "--epochs", "2"],
                          cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300,
                          preexec_fn=_limit_file_size)
    message = user_error(proc)
    assert f"tinycnn train: {run}/best.npz is too large for the file system (or the file size limit): epoch 2 " \
           f"could not be saved; {run}/last.npz still holds epoch 1, intact" in message, message
    assert f"then continue with `tinycnn train --out {run} --resume`" in message
    assert checkpoint(run)["epoch"] == 1
    assert not [n for n in os.listdir(run) if n.startswith(".tmp-")] and not os.path.exists(f"{run}/train.lock")
    train_ok(run, "--resume", cwd=tmp_path)
    assert_same_weights(checkpoint(run), checkpoint(reference_runs["two"]))


def _private_mounts():
    """The unshare command that gives a shell its own mount namespace (where it may mount a tmpfs), or None."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    for flags in (["-rm"], ["-m"]):
        probe = subprocess.run([unshare, *flags, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [unshare, *flags]
    return None


def _in_private_mounts(script: str, cwd, **variables):
    command = _private_mounts()
    if command is None:
        pytest.skip("this machine does not let a test mount a tmpfs in a private mount namespace (unshare)")
    shell_env = env(PY=sys.executable, **{k: str(v) for k, v in variables.items()})
    return subprocess.run([*command, "sh", "-c", script], cwd=cwd, env=shell_env, capture_output=True, text=True,
                          timeout=600)


def _read(path) -> str:
    return open(path).read()


def test_out_of_space_on_a_small_tmpfs_keeps_the_checkpoint_and_resumes(reference_runs, tmp_path):
    """A tmpfs with room for one epoch's files (best.npz and last.npz share their bytes) but not for a new
    checkpoint beside the old one: the real ENOSPC, then more space, then --resume."""
    sizes = {}
    for name in os.listdir(reference_runs["one"]):
        st = os.stat(os.path.join(reference_runs["one"], name))
        sizes[st.st_ino] = st.st_size
    checkpoint_size = os.path.getsize(os.path.join(reference_runs["one"], "last.npz"))
    size_kb = (sum(sizes.values()) + checkpoint_size // 2) // 1024
    (tmp_path / "mnt").mkdir()
    (tmp_path / "log").mkdir()
    script = """
        mount -t tmpfs -o size=${SIZE}k tmpfs "$MNT" || exit 97
        "$PY" -m tinycnn train $SMALL --epochs 1 --out "$MNT/run" >"$LOG/1.out" 2>"$LOG/1.err"; echo $? >"$LOG/1.rc"
        "$PY" -m tinycnn train --out "$MNT/run" --resume --epochs 2 >"$LOG/2.out" 2>"$LOG/2.err"; echo $? >"$LOG/2.rc"
        cp -a "$MNT/run" "$LOG/full"
        mount -o remount,size=8m "$MNT"
        "$PY" -m tinycnn train --out "$MNT/run" --resume >"$LOG/3.out" 2>"$LOG/3.err"; echo $? >"$LOG/3.rc"
        cp -a "$MNT/run" "$LOG/resumed"
    """
    proc = _in_private_mounts(script, tmp_path, MNT=tmp_path / "mnt", LOG=tmp_path / "log", SIZE=size_kb,
                              SMALL=" ".join(SMALL))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = tmp_path / "log"
    assert _read(log / "1.rc").strip() == "0", _read(log / "1.err")
    assert _read(log / "2.rc").strip() == "2", _read(log / "2.out") + _read(log / "2.err")
    message = _read(log / "2.err").strip()
    run = tmp_path / "mnt" / "run"
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert message.startswith(f"tinycnn train: no space left on the device to write {run}/")
    assert f"epoch 2 could not be saved; {run}/last.npz still holds epoch 1, intact; free some space, then " \
           f"continue with `tinycnn train --out {run} --resume`" in message
    assert checkpoint(log / "full")["epoch"] == 1
    assert not [n for n in os.listdir(log / "full") if n.startswith(".tmp-") or n == "train.lock"]
    assert _read(log / "3.rc").strip() == "0", _read(log / "3.err")
    assert_same_weights(checkpoint(log / "resumed"), checkpoint(reference_runs["two"]))


def test_a_read_only_folder_is_named_before_any_work(reference_runs, tmp_path):
    if os.geteuid() != 0:       # permissions stop an ordinary user; root needs a read-only file system
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            train = tinycnn_cli("train", "--out", ro / "run", cwd=tmp_path)
            evaluate = tinycnn_cli("eval", os.path.join(reference_runs["one"], "last.npz"), "--test-limit", "10",
                                   "--out", ro / "plots", cwd=tmp_path)
        finally:
            ro.chmod(0o755)
        expected = "Permission denied"
    else:
        (tmp_path / "ro").mkdir()
        script = """
            mount -t tmpfs -o ro tmpfs "$RO" || exit 97
            "$PY" -m tinycnn train --out "$RO/run" >"$RO.train.out" 2>"$RO.train.err"; echo $? >"$RO.train.rc"
            "$PY" -m tinycnn eval "$CKPT" --test-limit 10 --out "$RO/plots" >"$RO.eval.out" 2>"$RO.eval.err"
            echo $? >"$RO.eval.rc"
        """
        ro = tmp_path / "ro"
        proc = _in_private_mounts(script, tmp_path, RO=ro, CKPT=os.path.join(reference_runs["one"], "last.npz"))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        train, evaluate = (subprocess.CompletedProcess([], int(_read(f"{ro}.{k}.rc")), _read(f"{ro}.{k}.out"),
                                                       _read(f"{ro}.{k}.err")) for k in ("train", "eval"))
        expected = "Read-only file system"
    message = user_error(train)
    assert f"cannot create the run folder {ro}/run: " in message and expected in message, message
    assert "choose a folder you can write to with --out" in message
    message = user_error(evaluate)
    assert f"{ro}/plots" in message and "choose a folder you can write to with --out" in message, message
    assert "read-only" in message or "no permission" in message, message


# ---- a damaged Numba kernel cache -----------------------------------------------------------------------------------
# Writes a damaged index file where Numba's cache (NUMBA_CACHE_DIR) keeps each direct-convolution kernel, as
# a disk error or an interrupted copy would leave it; prints the folder.
_DAMAGE_CACHE = """
import os
from numba.core.caching import FunctionCache
from tinycnn.kernels import _launcher
for kernel in _launcher()._REGISTRY:
    py_func = kernel.item if hasattr(kernel, "item") else kernel.dispatcher.py_func   # cfunc item or njit
    index = FunctionCache(py_func)._cache_file._index_path
    os.makedirs(os.path.dirname(index), exist_ok=True)
    with open(index, "wb") as f:
        f.write(b"\\x80\\x04 not an index")
print(os.path.dirname(index))
"""


def test_a_damaged_numba_cache_is_explained_with_how_to_clear_it(tmp_path):
    """A cache whose index files are damaged: the run says which folder to clear and how; doing that makes
    the run work again (the kernels are compiled anew into the cleared folder)."""
    from tinycnn import kernels
    if kernels.get_kernels_name() != "numba":
        pytest.skip("the Numba kernels are not in use")
    extra = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"), "TINYCNN_KERNELS": "numba"}
    damage = subprocess.run([sys.executable, "-c", _DAMAGE_CACHE], cwd=tmp_path, env=env(**extra),
                            capture_output=True, text=True, timeout=300)
    assert damage.returncode == 0, damage.stderr
    folder = damage.stdout.strip()
    args = ["train", "--train-limit", "64", "--test-limit", "16", "--batch-size", "32", "--epochs", "1",
            "--no-progress", "--out", "run"]
    message = user_error(tinycnn_cli(*args, cwd=tmp_path, extra_env=extra))
    assert f"tinycnn train: the Numba kernel cache in {folder} is damaged" in message, message
    assert f"delete its files (rm {folder}/*.nb[ic]) and run again" in message
    assert not (tmp_path / "run").exists()
    subprocess.run(f"rm {folder}/*.nb[ic]", shell=True, check=True)       # the advice, as given
    again = tinycnn_cli(*args, cwd=tmp_path, extra_env=extra)
    assert again.returncode == 0, again.stderr
    assert snapshot(tmp_path / "run").keys() >= {"last.npz", "best.npz", "metrics.json"}
