"""The command line: ``tinycnn`` / ``python -m tinycnn`` with subcommands train, eval, summary, gradcheck, graph."""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .graph_cli import add_parser as add_graph_parser


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
        return 2
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
    return 0 if passed == len(names) else 1


def _cmd_train(args) -> int:
    from .train import TrainConfig, TrainingError, train  # noqa: PLC0415
    config = TrainConfig(
        model=args.model, variant=args.variant, dataset=args.dataset, data_root=args.data_root,
        epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        weight_decay=args.weight_decay, scheduler=args.scheduler, seed=args.seed,
        out=args.out or f"runs/{args.model}", device=args.device, input_size=args.input_size,
        pretrained=args.pretrained, freeze_backbone=args.freeze_backbone, train_limit=args.train_limit,
        test_limit=args.test_limit, progress=not args.no_progress)
    try:
        history = train(config, resume=args.resume)
    except KeyboardInterrupt:
        return 130
    except (TrainingError, ValueError) as exc:
        print(f"tinycnn train: {exc}", file=sys.stderr)
        return 1
    if history:
        best = max(h["test_accuracy"] for h in history)
        print(f"done: final test accuracy {100 * history[-1]['test_accuracy']:.2f}% "
              f"(best {100 * best:.2f}%); results in {config.out}/")
    return 0


def _cmd_eval(args) -> int:
    import numpy as np  # noqa: PLC0415

    from .train import evaluate_checkpoint  # noqa: PLC0415
    result = evaluate_checkpoint(args.checkpoint, out=args.out, device=args.device, test_limit=args.test_limit)
    print(f"test accuracy {100 * result['accuracy']:.2f}%  (loss {result['loss']:.4f}, "
          f"{result['misclassified']} misclassified)")
    print("confusion matrix (rows: true class, columns: predicted):")
    with np.printoptions(linewidth=160):
        print(result["confusion"])
    return 0


def _cmd_summary(args) -> int:
    from .models import default_input_size, describe_model, get_model, list_models  # noqa: PLC0415
    from .utils.summary import summary  # noqa: PLC0415
    if args.list:
        names = list_models()
        width = max(len(n) for n in names)
        for name in names:
            size = "x".join(str(d) for d in default_input_size(name))
            print(f"{name:<{width}}  {size:<11}  {describe_model(name)}")
        return 0
    if not args.model:
        print("tinycnn summary: give a MODEL (or --list to see them all)", file=sys.stderr)
        return 2
    kwargs = {"variant": args.variant} if args.variant else {}
    try:
        model = get_model(args.model, **kwargs)
    except ValueError as exc:
        print(f"tinycnn summary: {exc}", file=sys.stderr)
        return 2
    size = tuple(args.input_size) if args.input_size else default_input_size(args.model)
    print(summary(model, size))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinycnn", description="tinycnn: CNNs from scratch on NumPy.")
    parser.add_argument("--version", action="version", version=f"tinycnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("gradcheck", help="check every op's backward against finite differences")
    g.add_argument("ops", nargs="*", help="only these ops (default: all registered)")
    g.add_argument("--eps", type=float, default=1e-6)
    g.add_argument("--atol", type=float, default=1e-5)
    g.add_argument("--rtol", type=float, default=1e-3)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=_cmd_gradcheck)

    t = sub.add_parser("train", help="train a model on (Fashion-)MNIST")
    t.add_argument("model", nargs="?", default="lenet5", help="model name (see `tinycnn summary --list`)")
    t.add_argument("--variant", choices=["classic", "modern"], help="LeNet-5 variant (default modern)")
    t.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    t.add_argument("--data-root", help="folder with the four IDX .gz files (default: the shipped MNIST)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--optimizer", default="adam",
                   choices=["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"])
    t.add_argument("--lr", type=float, help="learning rate (default depends on the optimizer)")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--scheduler", default="cosine", choices=["none", "cosine", "step", "exponential", "multistep"])
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="output folder (default runs/MODEL)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--input-size", type=int,
                   help="resize images to this size (default: 28 for lenet5, else a size the model accepts)")
    t.add_argument("--pretrained", help="weights to start from (.npz from tinycnn or a torch .pth)")
    t.add_argument("--freeze-backbone", action="store_true", help="train only the new head")
    t.add_argument("--train-limit", type=int, help="use only the first N training images")
    t.add_argument("--test-limit", type=int, help="use only the first N test images")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("eval", help="test accuracy and confusion matrix of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--out", help="where to save confusion.png and misclassified.png (default: beside it)")
    e.add_argument("--device", default="cpu")
    e.add_argument("--test-limit", type=int)
    e.set_defaults(func=_cmd_eval)

    s = sub.add_parser("summary", help="layer table: output shapes, parameters, multiply-adds")
    s.add_argument("model", nargs="?", help="model name")
    s.add_argument("--list", action="store_true", help="list every model: name, input size, description")
    s.add_argument("--variant", choices=["classic", "modern"])
    s.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"))
    s.set_defaults(func=_cmd_summary)

    add_graph_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
