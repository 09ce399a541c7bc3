"""Media values for ``run.log``: images, histograms, tables, audio, video, HTML and plotly charts.

They are plain, picklable containers of numpy data, so they travel through the same queue as
scalars and reach every sink (the W&B sink turns them into ``wandb.Image`` and friends; the
local store writes files). Audio and video keep their encoded bytes (WAV, GIF, MP4, ...): arrays
are encoded here with the standard library (WAV) and Pillow (GIF), so neither ``soundfile`` nor
``moviepy`` is needed; other formats are taken from files. Torch tensors are accepted and
moved to numpy when constructed, on the caller's thread: for a CUDA tensor that copy waits
for the GPU. Media are logged at intervals, so this is not a per-step cost; a plugin that
builds them every step should pass numpy it copied asynchronously (the torch tracker does).
"""

from __future__ import annotations

import io
import os
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def _to_numpy(data: Any) -> np.ndarray:
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # a torch tensor, without importing torch
        data = data.detach().float().cpu().numpy()
    return np.asarray(data)


@dataclass
class Image:
    """An image: numpy ``HxW``/``HxWxC`` (uint8, or float in 0..1), a PIL image, a torch
    ``CxHxW``/``HxWxC`` tensor, a matplotlib figure, or the path of an image file."""

    data: Any
    caption: str | None = None
    pixels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.data, (str, os.PathLike)):
            from PIL import Image as PILImage

            path = Path(self.data)
            if not path.is_file():
                raise ValueError(f"Image: no image file at {path}")
            with PILImage.open(path) as opened:
                self.data = opened.copy()
        elif hasattr(self.data, "savefig"):  # a matplotlib figure, as wandb.Image takes one
            from PIL import Image as PILImage

            buffer = io.BytesIO()
            self.data.savefig(buffer, format="png")
            buffer.seek(0)
            with PILImage.open(buffer) as opened:
                self.data = opened.convert("RGB")
        if hasattr(self.data, "convert") and hasattr(self.data, "size"):  # PIL.Image
            self.pixels = np.asarray(self.data.convert("RGB" if self.data.mode != "L" else "L"))
        else:
            arr = _to_numpy(self.data)
            if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
                arr = np.transpose(arr, (1, 2, 0))  # CHW -> HWC
            if arr.ndim == 3 and arr.shape[-1] == 1:
                arr = arr[..., 0]
            if arr.ndim not in (2, 3):
                raise ValueError(f"Image needs HxW or HxWxC data, got shape {arr.shape}")
            if arr.dtype != np.uint8:
                arr = np.clip(np.nan_to_num(arr.astype(np.float64)) * 255.0, 0, 255).astype(np.uint8)
            self.pixels = np.ascontiguousarray(arr)
        self.data = None  # keep only the pixels: smaller to queue and to pickle

    def to_pil(self) -> Any:
        """The image as a PIL image (needs Pillow)."""
        from PIL import Image as PILImage

        return PILImage.fromarray(self.pixels)


@dataclass
class Histogram:
    """A histogram from raw ``values`` (binned here with ``num_bins``) or precomputed
    ``counts`` and ``edges`` (``len(edges) == len(counts) + 1``)."""

    values: Any = None
    counts: Any = None
    edges: Any = None
    num_bins: int = 64
    np_histogram: Any = None  # wandb's form: (counts, edges), as numpy.histogram returns

    def __post_init__(self) -> None:
        if self.np_histogram is not None:
            self.counts, self.edges = self.np_histogram
            self.np_histogram = None
        if self.counts is not None:
            if self.edges is None:
                raise ValueError("Histogram(counts=...) also needs edges=")
            self.counts = _to_numpy(self.counts).astype(np.float64).ravel()
            self.edges = _to_numpy(self.edges).astype(np.float64).ravel()
            if len(self.edges) != len(self.counts) + 1:
                raise ValueError(f"Histogram needs len(edges) == len(counts) + 1, got "
                                 f"{len(self.edges)} edges for {len(self.counts)} counts")
        elif self.values is not None:
            values = _to_numpy(self.values).astype(np.float64).ravel()
            values = values[np.isfinite(values)]
            counts, edges = np.histogram(values, bins=self.num_bins)
            self.counts, self.edges = counts.astype(np.float64), edges
        else:
            raise ValueError("Histogram needs values= or counts= and edges=")
        self.values = None

    def to_dict(self) -> dict[str, list[float]]:
        """``{"counts": [...], "edges": [...]}``."""
        return {"counts": self.counts.tolist(), "edges": self.edges.tolist()}


@dataclass
class Table:
    """A table of rows under named columns; cells are numbers, strings, or media (images,
    audio, video, HTML, plotly charts), as in ``wandb.Table``.

    Also built as W&B's is: ``Table(columns=[...])`` then ``add_data(...)`` per row, or
    ``Table(dataframe=df)`` from a pandas DataFrame.
    """

    columns: list[str] | None = None
    data: list[list[Any]] | None = None
    dataframe: Any = None

    def __post_init__(self) -> None:
        if self.dataframe is not None:
            frame, self.dataframe = self.dataframe, None
            self.columns = [str(c) for c in frame.columns]
            self.data = frame.values.tolist()
        self.data = [list(row) for row in (self.data or [])]
        if self.columns is None:
            width = len(self.data[0]) if self.data else 0
            self.columns = [f"col{i + 1}" for i in range(width)]  # W&B's default names
        self.columns = [str(c) for c in self.columns]
        for i, row in enumerate(self.data):
            self._check(i, row)

    def _check(self, i: int, row: list[Any]) -> None:
        if len(row) != len(self.columns or ()):
            raise ValueError(f"Table row {i} has {len(row)} cells for "
                             f"{len(self.columns or ())} columns {self.columns}")

    def add_data(self, *cells: Any) -> None:
        """Append one row (one value per column)."""
        row = list(cells)
        self._check(len(self.data or ()), row)
        assert self.data is not None
        self.data.append(row)


def _read_media_file(what: str, path: str | os.PathLike[str], formats: tuple[str, ...]) -> tuple[bytes, str]:
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in formats:
        raise ValueError(f"{what}: {path} is not one of the formats {', '.join(formats)}")
    if not path.is_file():
        raise ValueError(f"{what}: no file at {path}")
    return path.read_bytes(), fmt


AUDIO_FORMATS = ("wav", "mp3", "flac", "ogg", "m4a", "aac")


@dataclass
class Audio:
    """A sound clip: the path of an audio file (WAV, MP3, FLAC, OGG, ...), or samples as a
    numpy array / tensor (``N`` or ``N x channels``, float in -1..1 or int16) with
    ``sample_rate``, written as 16-bit WAV."""

    data: Any
    sample_rate: int | None = None
    caption: str | None = None
    encoded: bytes = field(init=False, repr=False)
    format: str = field(init=False, default="wav")

    def __post_init__(self) -> None:
        if isinstance(self.data, (str, os.PathLike)):
            self.encoded, self.format = _read_media_file("Audio", self.data, AUDIO_FORMATS)
        else:
            if not self.sample_rate or self.sample_rate <= 0:
                raise ValueError("Audio(samples) needs sample_rate= (samples per second)")
            self.encoded = _wav_bytes(_to_numpy(self.data), int(self.sample_rate))
            self.format = "wav"
        self.data = None


def _wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2:
        raise ValueError(f"Audio needs N or N x channels samples, got shape {samples.shape}")
    if samples.dtype != np.int16:
        floats = np.clip(np.nan_to_num(samples.astype(np.float64)), -1.0, 1.0)
        samples = np.round(floats * 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


VIDEO_FORMATS = ("gif", "mp4", "webm", "ogg")


@dataclass
class Video:
    """A video: the path of a GIF/MP4/WebM/OGG file, or frames as a uint8 array / tensor
    ``T x C x H x W`` (W&B's layout; ``C`` 1 or 3), encoded as an animated GIF with Pillow
    at ``fps`` frames per second. MP4/WebM from frames would need an encoder wandbkit does
    not ship (W&B uses moviepy): write the file yourself and pass its path."""

    data: Any
    caption: str | None = None
    fps: int = 4
    format: str | None = None
    encoded: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.data, (str, os.PathLike)):
            self.encoded, self.format = _read_media_file("Video", self.data, VIDEO_FORMATS)
        else:
            if self.format not in (None, "gif"):
                raise ValueError(f"Video(frames, format={self.format!r}): frames are encoded as "
                                 "GIF only (an MP4/WebM encoder such as moviepy is not part of "
                                 "wandbkit); use format='gif' or pass the path of a video file")
            self.encoded, self.format = _gif_bytes(_to_numpy(self.data), self.fps), "gif"
        self.data = None


def _gif_bytes(frames: np.ndarray, fps: int) -> bytes:
    from PIL import Image as PILImage

    if frames.ndim != 4 or frames.shape[1] not in (1, 3, 4):
        raise ValueError(f"Video needs T x C x H x W frames (C 1, 3 or 4), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        frames = np.clip(np.nan_to_num(frames.astype(np.float64)), 0, 255).astype(np.uint8)
    hwc = np.transpose(frames[:, :3], (0, 2, 3, 1))
    images = [PILImage.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in hwc]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(1, round(1000 / max(fps, 1))), loop=0)
    return out.getvalue()


@dataclass
class Html:
    """An HTML page (a string, an open file, or the path of an ``.html`` file), as ``wandb.Html``.

    W&B shows it in an iframe; wandbkit's dashboard shows it sandboxed (no scripts run).
    ``inject`` adds wandb's ``<base target="_blank">`` and stylesheet to the copy W&B gets, as
    wandb does; the local store keeps the page as given.
    """

    data: Any
    inject: bool = True
    data_is_not_path: bool = False
    html: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        data = self.data
        is_path = (isinstance(data, (str, os.PathLike)) and not self.data_is_not_path
                   and os.path.isfile(data) and str(data).endswith(".html"))
        if is_path:
            self.html = Path(data).read_text(encoding="utf-8")
        elif isinstance(data, str):
            self.html = data
        elif hasattr(data, "read"):
            if hasattr(data, "seek"):
                data.seek(0)
            self.html = data.read()
        else:
            raise ValueError(f"Html takes a string, a file or an .html path, got {type(data).__name__}")
        self.data = None

    def for_wandb(self) -> str:
        """The page as wandb writes it (its head injected when ``inject``)."""
        if not self.inject:
            return self.html
        head = ('<base target="_blank"><link rel="stylesheet" type="text/css" '
                'href="https://app.wandb.ai/normalize.css" />')
        if "<head>" in self.html:
            before, after = self.html.split("<head>", 1)
            return (before + "<head>" + head + after).strip()
        if "<html>" in self.html:
            before, after = self.html.split("<html>", 1)
            return (before + "<html><head>" + head + "</head>" + after).strip()
        return (head + self.html).strip()


@dataclass
class Plotly:
    """A plotly figure (or a matplotlib figure, converted to plotly as wandb converts it), kept
    as plotly's JSON (``spec``: ``{"data": [...], "layout": {...}}``)."""

    figure: Any
    spec: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        figure, self.figure = self.figure, None
        if isinstance(figure, dict) and "data" in figure:
            self.spec = figure
            return
        name = type(figure).__module__ + "." + type(figure).__name__
        if is_matplotlib(figure):
            if matplotlib_has_images(figure):
                raise ValueError("Plotly: a matplotlib figure holding images cannot become a "
                                 "plotly chart; log it as Image(fig)")
            figure = matplotlib_to_plotly(figure)
            name = "plotly.Figure"
        if not name.startswith("plotly.") or not hasattr(figure, "to_json"):
            raise ValueError(f"Plotly takes a plotly or matplotlib figure, got {type(figure).__name__}")
        import json

        self.spec = json.loads(figure.to_json())  # plotly's own encoder: numpy arrays as lists


def is_matplotlib(value: Any) -> bool:
    """A matplotlib figure, axes or the ``pyplot`` module (what ``wandb.log`` converts)."""
    module = value.__name__ if isinstance(value, type(io)) else type(value).__module__
    return module.startswith("matplotlib.")


def _figure(value: Any) -> Any:
    """The figure of a matplotlib object (the current one for ``pyplot``), as wandb takes it."""
    from matplotlib.figure import Figure

    if isinstance(value, type(io)):  # matplotlib.pyplot itself
        return value.gcf()
    if not isinstance(value, Figure) and hasattr(value, "figure"):
        value = value.figure
    if not isinstance(value, Figure):
        raise ValueError("only matplotlib.pyplot or a matplotlib Figure (or Axes) can be logged")
    return value


def matplotlib_has_images(value: Any) -> bool:
    """True when any axes of the figure shows an image (``imshow``): wandb logs those as images."""
    return any(len(ax.images) > 0 for ax in _figure(value).axes)


def matplotlib_to_plotly(value: Any) -> Any:
    """plotly's conversion of a matplotlib figure (``plotly.tools.mpl_to_plotly``)."""
    try:
        import plotly.tools
    except ImportError as exc:
        raise ValueError("logging a matplotlib figure as a chart needs plotly (pip install "
                         "plotly), or log Image(fig)") from exc
    return plotly.tools.mpl_to_plotly(_figure(value))


def from_log_value(value: Any) -> Any:
    """What ``wandb.log`` makes of a raw plot: a plotly figure becomes :class:`Plotly`; a
    matplotlib figure (or ``pyplot``) becomes :class:`Plotly`, or an :class:`Image` when it
    shows images or plotly cannot convert it (one notice); anything else is returned as is."""
    if type(value).__module__.startswith("plotly.") and hasattr(value, "to_json"):
        return Plotly(value)
    if not is_matplotlib(value):
        return value
    figure = _figure(value)
    if matplotlib_has_images(figure):
        return Image(figure)
    try:
        return Plotly(matplotlib_to_plotly(figure))
    except Exception as exc:  # plotly's converter lags matplotlib: keep the picture
        from wandbkit.console import warn_once

        warn_once("mpl-to-plotly", f"a matplotlib figure could not become a plotly chart "
                  f"({type(exc).__name__}: {exc}); logged as an image instead")
        return Image(figure)


@dataclass
class CustomChart:
    """A table and the W&B chart preset (``spec_name``) that draws it, as ``wandb.plot_table``
    returns. ``fields`` maps the preset's fields to the table's columns."""

    table: Table
    spec_name: str
    fields: dict[str, Any]
    string_fields: dict[str, Any] = field(default_factory=dict)
    split_table: bool = False

    def table_key(self, key: str) -> str:
        """The history key the table goes under on W&B."""
        return f"Custom Chart Tables/{key}_table" if self.split_table else f"{key}_table"

    def config_value(self, key: str) -> dict[str, Any]:
        """What wandb puts in the config at ``_wandb.visualize.<key>`` for this chart."""
        return {"panel_type": "Vega2", "panel_config": {
            "panelDefId": self.spec_name, "fieldSettings": self.fields,
            "stringSettings": self.string_fields, "transform": {"name": "tableWithLeafColNames"},
            "userQuery": {"queryFields": [{
                "name": "runSets", "args": [{"name": "runSets", "value": "${runSets}"}],
                "fields": [{"name": "id", "fields": []}, {"name": "name", "fields": []},
                           {"name": "_defaultColorIndex", "fields": []},
                           {"name": "summaryTable",
                            "args": [{"name": "tableKey", "value": self.table_key(key)}],
                            "fields": []}]}]}}}


MEDIA_TYPES = (Image, Histogram, Table, Audio, Video, Html, Plotly, CustomChart)
