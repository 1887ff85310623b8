"""The ``Summary`` protocol buffers TensorBoard reads, built from NumPy arrays (the ``tensorboard`` package's
protos; no TensorFlow, no PyTorch).

* scalar: ``Summary.Value.simple_value`` (what ``EventAccumulator.Scalars`` and the Scalars tab read), or, with
  ``new_style``, a one-element tensor tagged for the "scalars" plugin;
* histogram: a ``HistogramProto``: ``np.histogram`` counts, with the empty buckets at both ends dropped but
  one empty bucket kept on the left, because TensorBoard stores only each bucket's right edge;
* image: a PNG (Pillow) in ``Summary.Image``; floats are taken to be in [0, 1] and scaled by 255, uint8 as is;
  a batch becomes one grid, 8 images a row;
* text: a string tensor tagged for the "text" plugin, under ``TAG/text_summary``;
* hparams: the hparams plugin's experiment, session-start and session-end summaries (a bool is stored as the
  number 0 or 1, as PyTorch's writer stores it, so runs logged by either compare in one HParams table).
"""
from __future__ import annotations

import io
import numbers

import numpy as np
from google.protobuf import struct_pb2
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.hparams import api_pb2, metadata as hparams_metadata, plugin_data_pb2
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData


def to_numpy(value, what: str) -> np.ndarray:
    """A Tensor (any device), array, list or number as a NumPy array (a one-line error for anything else)."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.detach().numpy() if hasattr(value, "detach") else value.numpy()
    elif hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        value = value.get()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: expected a tensor, array or number, got {type(value).__name__} ({exc})") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected numbers, got {type(value).__name__} of dtype {arr.dtype}")
    return arr


def scalar(tag: str, value, new_style: bool = False, double_precision: bool = False) -> Summary:
    arr = to_numpy(value, f"add_scalar({tag!r})")
    if arr.size != 1:
        raise ValueError(f"add_scalar({tag!r}): expected one value, got an array of shape {arr.shape}")
    number = float(arr.reshape(()))
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=number)])
    proto = (TensorProto(double_val=[number], dtype="DT_DOUBLE") if double_precision
             else TensorProto(float_val=[number], dtype="DT_FLOAT"))
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=tag, tensor=proto, metadata=meta)])


def tensorflow_bins() -> list:
    """TensorFlow's default histogram bucket edges: +-1e-12 * 1.1^k up to 1e20, and 0 (as PyTorch's writer)."""
    edges, v = [], 1e-12
    while v < 1e20:
        edges.append(v)
        v *= 1.1
    return [-e for e in reversed(edges)] + [0.0] + edges


def histogram(tag: str, values, bins, max_bins: int | None = None) -> Summary:
    what = f"add_histogram({tag!r})"
    arr = to_numpy(values, what).astype(np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{what}: the values are empty")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what}: the values contain NaN or infinity ({int((~np.isfinite(arr)).sum())} of "
                         f"{arr.size})")
    counts, edges = np.histogram(arr, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        group = -(-len(counts) // max_bins)                # merge runs of `group` buckets
        pad = (-len(counts)) % group
        counts = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, group).sum(axis=1)
        edges = np.concatenate([edges[:-1][::group], edges[-1:]])
    nonzero = np.flatnonzero(counts)
    first, last = int(nonzero[0]), int(nonzero[-1])
    hist = HistogramProto(min=float(arr.min()), max=float(arr.max()), num=int(arr.size), sum=float(arr.sum()),
                          sum_squares=float(arr @ arr), bucket_limit=edges[first:last + 2].tolist(),
                          bucket=[0.0] + counts[first:last + 1].astype(np.float64).tolist())
    return Summary(value=[Summary.Value(tag=tag, histo=hist)])


def make_grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
    """(N, C, H, W) -> one (C, rows*H, columns*W) image, row by row (grey images become RGB)."""
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    n, c, h, w = images.shape
    columns = min(n, columns)
    rows = -(-n // columns)
    grid = np.zeros((c, rows * h, columns * w), dtype=images.dtype)
    for k in range(n):
        r, q = divmod(k, columns)
        grid[:, r * h:(r + 1) * h, q * w:(q + 1) * w] = images[k]
    return grid


def to_hwc(arr: np.ndarray, dataformats: str, what: str) -> np.ndarray:
    """An image or batch in the layout ``dataformats`` ("CHW", "HWC", "HW", "NCHW", "NHWC") as one HWC image."""
    fmt = dataformats.upper()
    if sorted(fmt) not in (sorted("HW"), sorted("CHW"), sorted("NCHW")):
        raise ValueError(f"{what}: dataformats must be a layout of HW, CHW or NCHW such as 'CHW', 'HWC' or "
                         f"'NCHW', got {dataformats!r}")
    if arr.ndim != len(fmt):
        raise ValueError(f"{what}: dataformats {dataformats!r} expects a {len(fmt)}-D array, got shape {arr.shape}")
    if len(fmt) == 4:
        arr = make_grid(arr.transpose([fmt.index(a) for a in "NCHW"])).transpose(1, 2, 0)
    elif len(fmt) == 3:
        arr = arr.transpose([fmt.index(a) for a in "HWC"])
    else:
        arr = arr.transpose([fmt.index(a) for a in "HW"])[:, :, None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.shape[2] not in (3, 4):
        raise ValueError(f"{what}: expected 1, 3 or 4 channels, got {arr.shape[2]}")
    return arr


def image(tag: str, value, dataformats: str, what: str) -> Summary:
    from PIL import Image  # noqa: PLC0415  (Pillow, which matplotlib depends on; only images need it)
    arr = to_numpy(value, what)
    hwc = to_hwc(arr, dataformats, what)
    scale = 1 if hwc.dtype == np.uint8 else 255
    pixels = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    height, width, channels = pixels.shape
    return Summary(value=[Summary.Value(tag=tag, image=Summary.Image(
        height=height, width=width, colorspace=channels, encoded_image_string=buffer.getvalue()))])


def figure_to_chw(figure) -> np.ndarray:
    """A matplotlib Figure rendered by Agg as a (3, H, W) uint8 image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415  (only figures need it)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return rgba[:, :, :3].transpose(2, 0, 1).copy()


def text(tag: str, text_string: str) -> Summary:
    if not isinstance(text_string, str):
        raise TypeError(f"add_text({tag!r}): expected a string, got {type(text_string).__name__}")
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    proto = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf-8")],
                        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=meta, tensor=proto)])


def _plugin_summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> Summary:
    data.version = hparams_metadata.PLUGIN_DATA_VERSION
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name=hparams_metadata.PLUGIN_NAME, content=data.SerializeToString()))
    return Summary(value=[Summary.Value(tag=tag, metadata=meta)])


def hparams(hparam_dict: dict, metric_dict: dict, domain_discrete: dict | None = None) -> tuple:
    """(experiment, session start, session end) summaries for the hparams plugin."""
    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError(f"add_hparams: hparam_dict and metric_dict must be dicts, got "
                        f"{type(hparam_dict).__name__} and {type(metric_dict).__name__}")
    domain_discrete = domain_discrete or {}
    if not isinstance(domain_discrete, dict):
        raise TypeError(f"add_hparams: hparam_domain_discrete must be a dict, got {type(domain_discrete).__name__}")
    for k, values in domain_discrete.items():
        if k not in hparam_dict or not isinstance(values, list) or \
                not all(isinstance(v, type(hparam_dict[k])) for v in values):
            raise TypeError(f"add_hparams: hparam_domain_discrete[{k!r}] must be a list of values of the type "
                            f"of hparam_dict[{k!r}]")
    start = plugin_data_pb2.SessionStartInfo()
    infos = []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, numbers.Real):      # bools too: PyTorch's writer stores them as 0.0/1.0
            start.hparams[k].number_value, kind, field = float(v), "DATA_TYPE_FLOAT64", "number_value"
        elif isinstance(v, str):
            start.hparams[k].string_value, kind, field = v, "DATA_TYPE_STRING", "string_value"
        elif hasattr(v, "numpy") and to_numpy(v, f"add_hparams({k!r})").size == 1:
            start.hparams[k].number_value = float(to_numpy(v, k).reshape(()))
            kind, field = "DATA_TYPE_FLOAT64", "number_value"
        else:
            raise ValueError(f"add_hparams: hparam {k!r} must be an int, float, str, bool or one-element tensor, "
                             f"got {type(v).__name__}")
        domain = None
        if k in domain_discrete:
            domain = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: d}) for d in domain_discrete[k]])
        infos.append(api_pb2.HParamInfo(name=k, type=api_pb2.DataType.Value(kind), domain_discrete=domain))
    experiment = api_pb2.Experiment(hparam_infos=infos,
                                    metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k))
                                                  for k in metric_dict])
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))
    return (_plugin_summary(hparams_metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
            _plugin_summary(hparams_metadata.SESSION_START_INFO_TAG,
                            plugin_data_pb2.HParamsPluginData(session_start_info=start)),
            _plugin_summary(hparams_metadata.SESSION_END_INFO_TAG,
                            plugin_data_pb2.HParamsPluginData(session_end_info=end)))
