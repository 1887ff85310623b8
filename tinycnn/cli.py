"""The command line: ``tinycnn`` / ``python -m tinycnn`` with subcommands train, eval, predict, summary,
gradcheck, graph, visualize.

Exit status: 0 done; 1 the training diverged (non-finite loss) or an op failed its gradient check; 2 a user's
error (a bad argument, a missing or damaged file, a run folder in use, a full disk...), reported as one line
on stderr that names the argument or file and says what to do; 130 interrupted with Ctrl-C. Anything else is
a bug in tinycnn and shows its traceback. --debug shows the traceback of a user's error too.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .graph_cli import add_parser as add_graph_parser
from .visualize_cli import add_parser as add_visualize_parser

EXIT_FAILED, EXIT_USER_ERROR, EXIT_INTERRUPTED = 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, exit status 2 as argparse has it."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=32, width=110)


def _cmd_gradcheck(args) -> int:
    import numpy as np  # noqa: PLC0415

    from . import nn  # noqa: F401,PLC0415  (importing the layers registers every op)
    from .utils.gradcheck import check_gradients  # noqa: PLC0415
    from .utils.gradcheck_registry import REGISTRY  # noqa: PLC0415

    names = sorted(REGISTRY) if not args.ops else args.ops
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        print(f"gradcheck: unknown op(s) {', '.join(unknown)}; known: {', '.join(sorted(REGISTRY))}",
              file=sys.stderr)
        return EXIT_USER_ERROR
    width = max(len(n) for n in names) + 2
    print(f"{'op':<{width}}{'max abs err':>14}{'max rel err':>14}  result")
    passed = 0
    for name in names:
        op = REGISTRY[name]
        inputs = op.make_inputs(np.random.default_rng(args.seed))
        try:
            result = check_gradients(op.fn, inputs, eps=args.eps, atol=args.atol, rtol=args.rtol)
            ok, abs_err, rel_err = result.ok, result.max_abs_error, result.max_rel_error
        except Exception as exc:  # noqa: BLE001  (an op that crashes is a failure to report, not a crash)
            ok, abs_err, rel_err = False, float("nan"), float("nan")
            print(f"  {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        passed += ok
        print(f"{name:<{width}}{abs_err:>14.3e}{rel_err:>14.3e}  {'pass' if ok else 'FAIL'}")
    print(f"gradcheck: {passed}/{len(names)} ops pass")
    return 0 if passed == len(names) else EXIT_FAILED


def _cmd_train(args) -> int:
    from .train import TrainConfig, TrainingError, train  # noqa: PLC0415
    from .train_settings import given  # noqa: PLC0415
    if args.nproc is not None:
        return _launch_processes(args)
    chosen = given(args)
    config = TrainConfig(**chosen)
    try:
        if args.distributed:
            from .train_distributed import PeerStopped, train_distributed  # noqa: PLC0415  (needs mpi4py)
            try:
                history = train_distributed(config, resume=args.resume, given=chosen.keys())
            except PeerStopped:
                return EXIT_USER_ERROR   # rank 0 has printed why
        else:
            history = train(config, resume=args.resume, given=chosen.keys())
    except TrainingError as exc:
        print(f"tinycnn train: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if history:
        best = max(h["test_accuracy"] for h in history)
        print(f"done: final test accuracy {100 * history[-1]['test_accuracy']:.2f}% "
              f"(best {100 * best:.2f}%); results in {config.out}/")
    return 0


def _launch_processes(args) -> int:
    """``--nproc N``: run this same command in N processes under mpiexec on this machine, ``--distributed``."""
    import subprocess  # noqa: PLC0415

    from .distributed.launch import mpiexec_command  # noqa: PLC0415
    from .run_errors import ConfigError  # noqa: PLC0415
    from .train_distributed import running_under_mpi  # noqa: PLC0415
    if args.nproc < 1:
        raise ConfigError("--nproc", f"expected a positive number of processes, got {args.nproc}")
    if running_under_mpi():
        raise ConfigError("--nproc", "this process was already started by mpirun/mpiexec: give --distributed "
                                   "instead of --nproc (the launcher's -n sets the number of processes)")
    argv, rest = list(args.argv), []
    while argv:                                   # the same arguments, without --nproc N
        arg = argv.pop(0)
        if arg == "--nproc":
            argv.pop(0)
        elif not arg.startswith("--nproc="):
            rest.append(arg)
    try:
        command = mpiexec_command(args.nproc, [sys.executable, "-m", "tinycnn", *rest, "--distributed"])
    except ImportError as exc:
        raise ConfigError("--nproc", str(exc)) from None
    # as torchrun does: the processes share the cores, so each one's thread pools get a share of them
    # (N processes each starting one BLAS/Numba thread per core would spin against one another)
    threads = str(max(1, (os.cpu_count() or 1) // args.nproc))
    child_env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        child_env.setdefault(name, threads)
    try:
        code = subprocess.call(command, env=child_env)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if code not in (0, EXIT_FAILED, EXIT_USER_ERROR, EXIT_INTERRUPTED):
        print(f"tinycnn train: the {args.nproc} training processes ended with exit status {code}: one of them "
              f"failed or was killed (see above); the run folder keeps its last complete epoch (continue with "
              f"--resume --nproc {args.nproc})", file=sys.stderr)
    return code


def _cmd_eval(args) -> int:
    import numpy as np  # noqa: PLC0415

    from .train import evaluate_checkpoint  # noqa: PLC0415
    result = evaluate_checkpoint(args.checkpoint, out=args.out, device=args.device, test_limit=args.test_limit,
                                 data_root=args.data_root)
    top5 = result["top5_accuracy"]
    print(f"test accuracy {100 * result['accuracy']:.2f}% top-1, "
          + (f"{100 * top5:.2f}% top-5" if top5 is not None else "top-5 not reported (five classes or fewer)")
          + f"  (loss {result['loss']:.4f}, {result['misclassified']} misclassified)")
    if len(result["confusion"]) <= 20:
        print("confusion matrix (rows: true class, columns: predicted):")
        with np.printoptions(linewidth=160):
            print(result["confusion"])
    print(f"wrote {result['files']['confusion']} and {result['files']['misclassified']}")
    return 0


def _cmd_predict(args) -> int:
    from .predict import predict  # noqa: PLC0415
    for image, top in zip(args.images, predict(args.checkpoint, args.images, topk=args.topk, device=args.device)):
        print(f"{image}:")
        for name, prob in top:
            print(f"  {100 * prob:6.2f}%  {name}")
    return 0


def _cmd_summary(args) -> int:
    from .models import default_input_size, describe_model, get_model, list_models  # noqa: PLC0415
    from .run_errors import ConfigError  # noqa: PLC0415
    from .train_settings import TrainConfig  # noqa: PLC0415
    from .utils.summary import summary  # noqa: PLC0415
    if args.list:
        names = list_models()
        width = max(len(n) for n in names)
        for name in names:
            size = "x".join(str(d) for d in default_input_size(name))
            print(f"{name:<{width}}  {size:<11}  {describe_model(name)}")
        return 0
    if args.model is None:
        raise ConfigError("model", "missing: give a MODEL (or --list to see them all)")
    TrainConfig(model=args.model, variant=args.variant).validate()
    size = tuple(args.input_size) if args.input_size else default_input_size(args.model)
    if any(n < 1 for n in size):
        raise ConfigError("input_size", f"expected three positive sizes C H W, got {' '.join(map(str, size))}")
    try:
        model = get_model(args.model, **({"variant": args.variant} if args.variant else {}))
    except ValueError as exc:
        raise ConfigError("variant", str(exc)) from None
    try:
        table = summary(model, size)
    except ValueError as exc:
        raise ConfigError("input_size", f"{args.model} cannot take an input of {' x '.join(map(str, size))}: "
                                        f"{exc}") from None
    print(table)
    return 0


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the Python traceback of any error, not only of tinycnn's bugs")
    return common


def build_parser() -> argparse.ArgumentParser:
    from .train_settings import add_arguments  # noqa: PLC0415  (imports the models, which --version needs not)
    common = _common()
    parser = _Parser(prog="tinycnn", description="tinycnn: CNNs from scratch on NumPy.", parents=[common],
                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=_Help)
    parser.add_argument("--version", action="version", version=f"tinycnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    g = sub.add_parser("gradcheck", help="check every op's backward against finite differences", parents=[common],
                       formatter_class=_Help)
    g.add_argument("ops", nargs="*", help="only these ops (default: all registered)")
    g.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default: %(default)s)")
    g.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default: %(default)s)")
    g.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: %(default)s)")
    g.set_defaults(func=_cmd_gradcheck)

    t = sub.add_parser("train", help="train a model on (Fashion-)MNIST, CIFAR or an image folder", parents=[common],
                       formatter_class=_Help,
                       description="Train a model into a run folder. A new run never writes into another run's "
                                   "folder; --resume continues a run with its saved settings (a setting given "
                                   "that differs from the saved one is refused, unless it may change).")
    add_arguments(t)
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out (default: the latest runs/MODEL[-N]) from its last.npz")
    t.add_argument("--distributed", action="store_true",
                   help="one of the processes of `mpirun -n N tinycnn train ... --distributed`: data-parallel "
                        "training, --batch-size images per process (N x batch-size per step), rank 0 writes the "
                        "run folder; needs pip install \"tinycnn[distributed]\"")
    t.add_argument("--nproc", type=int, metavar="N",
                   help="train in N processes on this machine (starts mpiexec -n N with --distributed); a run "
                        "resumes only with the number of processes it was trained with (default: this process "
                        "alone)")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("eval", help="top-1 / top-5 test accuracy and confusion matrix of a checkpoint",
                       parents=[common], formatter_class=_Help)
    e.add_argument("checkpoint", help="last.npz, best.npz or interrupted.npz written by tinycnn train")
    e.add_argument("--out", metavar="DIR",
                   help="where to write CHECKPOINT-confusion.png and CHECKPOINT-misclassified.png "
                        "(default: beside the checkpoint)")
    e.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    e.add_argument("--test-limit", type=int, metavar="N", help="use only the first N test images (default: all)")
    e.add_argument("--data-root", "--data-dir", metavar="DIR",
                   help="folder holding the data set (default: where the run found it)")
    e.set_defaults(func=_cmd_eval)

    p = sub.add_parser("predict", help="the most likely classes of image files, by a trained model",
                       parents=[common], formatter_class=_Help,
                       description="Print the most likely classes of each image with their probabilities, using "
                                   "the preprocessing and class names recorded at training time. Writes nothing.")
    p.add_argument("checkpoint", help="best.npz, last.npz or interrupted.npz written by tinycnn train, or its "
                                      "run folder (its best.npz)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG... anything Pillow reads)")
    p.add_argument("--topk", type=int, default=5, metavar="K", help="classes shown per image (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.set_defaults(func=_cmd_predict)

    s = sub.add_parser("summary", help="layer table: output shapes, parameters, multiply-adds", parents=[common],
                       formatter_class=_Help)
    s.add_argument("model", nargs="?", help="model name (see --list)")
    s.add_argument("--list", action="store_true", help="list every model: name, input size, description")
    s.add_argument("--variant", help="variant of the model (lenet5: classic or modern)")
    s.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"),
                   help="input shape (default: the model's own, as --list shows it)")
    s.set_defaults(func=_cmd_summary)

    add_graph_parser(sub)
    add_visualize_parser(sub, parents=[common], formatter_class=_Help)
    return parser


def _user_message(exc: BaseException, command: str) -> str | None:
    from .run_errors import ConfigError, explain  # noqa: PLC0415
    from .train_settings import label  # noqa: PLC0415
    if isinstance(exc, ConfigError):
        name = "--input-size" if command == "summary" and exc.setting == "input_size" else label(exc.setting)
        return f"{name}: {exc.detail}"
    return explain(exc)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:              # the output went to a pipe that closed (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:   # sorted below: a user's error becomes one line, a bug re-raises
        message = _user_message(exc, args.command)
        if message is None or getattr(args, "debug", False):
            raise
        print(f"tinycnn {args.command}: {message}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
