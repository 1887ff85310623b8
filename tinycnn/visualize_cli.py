"""``tinycnn visualize CHECKPOINT_OR_RUN IMAGE``: what a trained network responds to in one image, as PNGs.

The image is preprocessed as the run's test images are (grey or colour as the model takes it, resized to its
input size, normalised). ``--method deconvnet`` (the default) projects the strongest activations of
``--layer`` back to pixel space (Zeiler & Fergus); ``guided`` writes the guided-backpropagation gradient of
a class score or of a layer's strongest activation (Springenberg et al.); ``saliency`` the class saliency map
(Simonyan et al.). Each map is one PNG at the model's input size, beside the preprocessed input
(``STEM-input.png``) and an overview figure with titles; files that exist are refused unless ``--force``.
"""
from __future__ import annotations

import os
import re
import textwrap

METHODS = ("deconvnet", "guided", "saliency")


def add_parser(sub, parents=(), formatter_class=None) -> None:
    v = sub.add_parser("visualize", help="deconvnet projections, guided backprop or a saliency map of one image",
                       parents=list(parents),
                       description=textwrap.fill(
                                   "Preprocess IMAGE as the run's test images and draw what the network responds "
                                   "to: deconvnet projections of the strongest activations of --layer (Zeiler & "
                                   "Fergus), guided backpropagation of a class or a layer (Springenberg et al.), "
                                   "or the class saliency map (Simonyan et al.). Each map is one PNG at the "
                                   "model's input size, beside the preprocessed input and an overview figure; "
                                   "existing files are never replaced without --force.", width=108),
                       **({"formatter_class": formatter_class} if formatter_class else {}))
    v.add_argument("checkpoint", metavar="CHECKPOINT_OR_RUN",
                   help="a checkpoint written by tinycnn train, or its run folder (best.npz, else last.npz)")
    v.add_argument("image", metavar="IMAGE", help="an image file Pillow reads (PNG, JPEG...)")
    v.add_argument("--layer", metavar="NAME",
                   help="layer to look at: convK (the K-th convolution) or a module name such as 3 or "
                        "features.0 (needed for deconvnet; for guided, instead of --class)")
    v.add_argument("--method", choices=METHODS, default="deconvnet", help="what to draw (default: %(default)s)")
    v.add_argument("--channel", type=int, metavar="K",
                   help="only this channel of --layer (default: deconvnet the --top channels that respond "
                        "most, guided the strongest one)")
    v.add_argument("--top", type=int, default=9, metavar="N",
                   help="deconvnet without --channel: how many channels to project (default: %(default)s)")
    v.add_argument("--class", dest="target", type=int, metavar="C",
                   help="guided and saliency: the class whose score is explained (default: the predicted one)")
    v.add_argument("--out", metavar="DIR", default=".", help="folder for the PNGs (default: the current folder)")
    v.add_argument("--force", action="store_true", help="replace PNGs that already exist")
    v.set_defaults(func=run)


def _checkpoint_path(path: str) -> str:
    from .run_errors import RunError
    if not os.path.isdir(path):
        return path
    for name in ("best.npz", "last.npz"):
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    raise RunError(f"{path}: a folder without best.npz or last.npz; give a checkpoint or the folder of a run "
                   f"that tinycnn train wrote")


def load_run_model(path: str):
    """(model in eval mode with the checkpoint's weights, its TrainConfig) from a checkpoint or run folder."""
    from .builders import build_model, load_training_checkpoint
    from .run_errors import RunError
    from .train_settings import TrainConfig
    path = _checkpoint_path(os.fspath(path))
    state = load_training_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    from .evaluation import num_classes
    config.device, config.out = "cpu", None
    config.data_root = None                  # the data set is not needed, only its preprocessing
    config.validate(need_pretrained=False)   # the weights come from the checkpoint, not --pretrained's file
    config = config.resolved()
    model = build_model(config, num_classes(state), load_pretrained=False, in_channels=state.get("input_channels"),
                        weights=state["model"])
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise RunError(f"{path}: its weights do not fit {config.model}: {' '.join(str(exc).split())}") from None
    return model.eval(), config


def load_image(path: str, config, model):
    """The image at ``path`` preprocessed as the run's test images: a (C, H, W) tensor."""
    from PIL import Image, UnidentifiedImageError

    from .builders import first_conv_channels
    from .run_errors import RunError
    from .vision import presets
    try:
        with Image.open(path) as img:
            img.load()
            picture = img.convert("RGB") if img.mode not in ("L", "RGB") else img.copy()
    except UnidentifiedImageError:
        raise RunError(f"{path}: not an image (Pillow cannot read it; give a PNG, JPEG or another image file)") \
            from None
    transform = presets.eval_transform(config.dataset, input_size=config.input_size,
                                       channels=first_conv_channels(model) or 1)
    return transform(picture)


def _holds(path: str, picture) -> bool:
    """True if ``path`` is a PNG of exactly ``picture`` (as ``save_png`` writes it)."""
    import numpy as np
    from PIL import Image
    if not os.path.isfile(path):
        return False
    try:
        with Image.open(path) as img:
            pixels = np.asarray(img)
    except OSError:
        return False
    return np.array_equal(pixels, np.clip(np.round(np.asarray(picture) * 255), 0, 255).astype(np.uint8))


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _maps(args, model, x):
    """([(file suffix, map, title)], a line saying what was drawn, the overview's suffix) for the method."""
    import numpy as np

    from . import no_grad
    from .run_errors import ConfigError
    from .utils.visualize import deconvnet, guided_backprop, saliency
    if args.method == "saliency" and (args.layer or args.channel is not None):
        raise ConfigError("--layer", "a saliency map explains a class score (--class), not a layer; drop --layer "
                                     "and --channel, or use --method guided or deconvnet")
    if args.method == "deconvnet":
        if args.layer is None:
            raise ConfigError("--layer", "deconvnet needs a layer: give --layer convK (K-th convolution) or a "
                                         "module name")
        if args.target is not None:
            raise ConfigError("--class", "deconvnet projects a layer's activations; --class is for guided or "
                                         "saliency")
        result = deconvnet(model, x, args.layer, channel=args.channel, top=args.top)
        label = _safe(args.layer)
        maps = [(f"deconvnet-{label}-ch{c}", img, f"ch {c} ({a:.3g})")
                for c, img, a in zip(result.channels, result.images, result.activations)]
        return (maps, f"deconvnet projections of {len(maps)} channel(s) of layer {args.layer} ({result.layer})",
                f"deconvnet-{label}")
    with no_grad():
        predicted = int(np.argmax(model(x[None]).numpy()[0]))
    target = predicted if args.target is None else args.target
    if args.method == "saliency":
        return ([(f"saliency-class{target}", saliency(model, x, target), f"saliency, class {target}")],
                f"saliency map of class {target} (predicted: {predicted})", f"saliency-class{target}")
    if args.layer is None:
        return ([(f"guided-class{target}", guided_backprop(model, x, target), f"guided, class {target}")],
                f"guided backpropagation of class {target} (predicted: {predicted})", f"guided-class{target}")
    if args.target is not None:
        raise ConfigError("--class", "guided backpropagation explains a class (--class) or a layer (--layer), "
                                     "not both")
    grad = guided_backprop(model, x, layer=args.layer, channel=args.channel)
    what = "its strongest channel" if args.channel is None else f"channel {args.channel}"
    suffix = f"guided-{_safe(args.layer)}" + ("" if args.channel is None else f"-ch{args.channel}")
    return [(suffix, grad, f"guided, {args.layer}")], f"guided backpropagation of layer {args.layer}, {what}", suffix


def run(args) -> int:
    from .run_errors import ConfigError, RunError
    from .utils.visualize import save_overview, save_png, to_display
    if args.top < 1:
        raise ConfigError("--top", f"expected a positive number of channels, got {args.top}")
    if args.channel is not None and args.channel < 0:
        raise ConfigError("--channel", f"expected a channel number 0, 1, 2..., got {args.channel}")
    model, config = load_run_model(args.checkpoint)
    x = load_image(args.image, config, model)
    try:
        maps, what, name = _maps(args, model, x)
    except ValueError as exc:
        if isinstance(exc, RunError):
            raise
        raise RunError(str(exc)) from None
    stem = _safe(os.path.splitext(os.path.basename(args.image))[0])
    pixels = x.numpy()
    span = float(pixels.max() - pixels.min()) or 1.0
    pictures = [("input", to_display((pixels - pixels.min()) / span, signed=False), "input (preprocessed)")]
    pictures += [(suffix, to_display(m, signed=not suffix.startswith("saliency")), title)
                 for suffix, m, title in maps]
    paths = [os.path.join(args.out, f"{stem}-{suffix}.png") for suffix, _, _ in pictures]
    overview = os.path.join(args.out, f"{stem}-{name}-overview.png")
    # The preprocessed input is shared by every method's pictures of this image: the same file is kept as it is.
    same_input = not args.force and _holds(paths[0], pictures[0][1])
    existing = [p for p in [*paths, overview] if os.path.exists(p) and not (p == paths[0] and same_input)]
    if existing and not args.force:
        raise RunError(f"{existing[0]} exists ({len(existing)} of the files to write do); pass --force to replace "
                       f"them or choose another --out")
    written = 1
    for path, (_, picture, _) in zip(paths, pictures):
        if not (path == paths[0] and same_input):
            save_png(picture, path, force=True)
            written += 1
    save_overview([p for _, p, _ in pictures], [t for _, _, t in pictures], overview, title=f"{config.model}: {what}")
    print(f"wrote {written} PNGs to {os.path.relpath(args.out)}/: {what}; {os.path.basename(overview)} "
          f"shows them side by side")
    return 0
