"""``tinycnn graph MODEL``: the computational graph of one training step of a zoo model, drawn to a file.

The model takes a random batch (``--batch-size`` images of ``--input-size``) and random labels; the
forward runs under a module trace, the cross-entropy loss is taken (with GoogLeNet's auxiliary heads), and
``backward()`` runs, so every tensor of the drawing shows its gradient's norm (``utils.graph``). Big models
are drawn one node per child module unless ``--collapse 0`` asks for every op.
"""
from __future__ import annotations

import os
import sys

import numpy as np

EXIT_USER_ERROR = 2      # a user's error, one line on stderr, as every tinycnn command has it (cli.py)
# Models with more ops than this are drawn collapsed by default (one node per child module).
AUTO_COLLAPSE_OPS = 120
# Input sides the models were designed for; the rest take ImageNet's 224.
DESIGN_SIDE = {"lenet5": 28, "resnet18_small": 28}


def add_parser(sub) -> None:
    g = sub.add_parser("graph", help="draw the computational graph of one training step of a model",
                       description="Draw the graph autograd records for one training step of MODEL (forward, "
                                   "cross-entropy loss, backward) with every op's parameters and every "
                                   "gradient's norm.")
    g.add_argument("model", help="model name (tinycnn.models.list_models())")
    g.add_argument("--variant", choices=["classic", "modern"], help="LeNet-5 variant (default modern)")
    g.add_argument("--input-size", type=int, nargs="+", metavar="N",
                   help="image size: one side (channels from the model) or C H W "
                        "(default: the size the model was designed for, e.g. 1 28 28 for lenet5)")
    g.add_argument("--batch-size", type=int, default=2, help="images in the batch (default 2)")
    g.add_argument("--out", help="output file: .svg, .png, .pdf or .dot (default MODEL_graph.svg)")
    g.add_argument("--collapse", default="auto", metavar="DEPTH",
                   help="draw each module at this depth as one node: 1 the model's children, 2 theirs; 0 every "
                        f"op (default auto: 1 for models of more than {AUTO_COLLAPSE_OPS} ops, else 0)")
    g.add_argument("--no-grads", action="store_true", help="forward only: no backward, no gradients")
    g.add_argument("--left-right", action="store_true", help="lay the graph out left to right")
    g.add_argument("--seed", type=int, default=0, help="seed of the weights, the batch and the labels")
    g.set_defaults(func=run)


def _input_shape(args, model) -> tuple:
    channels = next((m.in_channels for m in model.modules() if hasattr(m, "in_channels")), 3)
    size = args.input_size
    if size is None:
        side = DESIGN_SIDE.get(args.model, 224)
        return channels, side, side
    if len(size) == 1:
        return channels, size[0], size[0]
    if len(size) == 3:
        return tuple(size)
    raise ValueError(f"--input-size: give one side or C H W, got {len(size)} numbers ({' '.join(map(str, size))})")


def _collapse(value: str, ops: int) -> int:
    if value == "auto":
        return 1 if ops > AUTO_COLLAPSE_OPS else 0
    if not value.isdigit():
        raise ValueError(f"--collapse: expected a depth (0, 1, 2...) or auto, got {value!r}")
    return int(value)


def run(args) -> int:
    from . import manual_seed, tensor
    from .models import get_model, googlenet_loss
    from .utils.graph import DotNotFoundError, Graph, output_format, trace_modules

    out = args.out or f"{args.model}_graph.svg"
    try:
        output_format(out)                   # a wrong extension fails before the model runs
        if args.batch_size < 1:
            raise ValueError(f"--batch-size: expected a positive integer, got {args.batch_size}")
        manual_seed(args.seed)
        model = get_model(args.model, **({"variant": args.variant} if args.variant else {}))
        shape = _input_shape(args, model)
        if any(s < 1 for s in shape):
            raise ValueError(f"--input-size: expected positive sizes, got {' '.join(map(str, shape))}")
        rng = np.random.default_rng(args.seed)
        x = tensor(rng.standard_normal((args.batch_size, *shape)).astype(np.float32))
        with trace_modules(model) as trace:
            try:
                output = model(x)
            except (ValueError, TypeError, RuntimeError) as exc:
                raise ValueError(f"{args.model} cannot take a batch of shape {tuple(x.shape)}: {exc} "
                                 f"(choose another --input-size)") from None
        logits = output[0] if isinstance(output, tuple) else output
        y = tensor(rng.integers(0, logits.shape[1], args.batch_size))
        loss = googlenet_loss(output, y)     # cross-entropy, plus GoogLeNet's auxiliary heads in train mode
        graph = Graph(loss, model=model, trace=trace)
        if not args.no_grads:
            loss.backward()
        depth = _collapse(args.collapse, len(graph.functions))
        graph.save(out, collapse=depth, rankdir="LR" if args.left_right else "TB")
    except (DotNotFoundError, ValueError, OSError) as exc:   # dot missing: the DOT text is written all the same
        print(f"tinycnn graph: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    level = "child module" if depth == 1 else f"module at depth {depth}"
    how = f"one node per {level} (--collapse 0 draws every op)" if depth else "every op"
    print(f"wrote {os.path.relpath(out)}: {args.model}, one training step on a batch of "
          f"{args.batch_size}x{'x'.join(map(str, shape))}, {len(graph.functions)} ops; {how}")
    return 0

