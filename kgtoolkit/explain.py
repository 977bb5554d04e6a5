"""`kgtoolkit classify CLIP --explain DIR`: why the model chose what it chose, as pictures.

For each clip two files in DIR, named after the clip: `NAME.png` (matplotlib) and `NAME.html` (one
self-contained page: the frames are embedded as PNG data URIs, the bars are CSS). Both show the
frames the model saw (the TSN segment centres after the centre crop, un-normalised), the top actions
with S_output and its two parts S_mm and S_tri as bars, and the body movements that support the top
action with the clip's v-b triple score and the INVOLVES support. The clip's `ClipResult` is stored
in both, as classify's JSON prints it: in the PNG as the text chunk `kgtoolkit:result`, in the page
as `<script type="application/json" id="kgtoolkit-result">`.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import torch

from kgtoolkit.classify import ClipResult
from kgtoolkit.errors import ConfigurationError
from kgtoolkit.media import ClipDecoder

RESULT_KEY = "kgtoolkit:result"


def frames_to_images(frames: torch.Tensor, decoder: ClipDecoder) -> np.ndarray:
    """(T, 3, S, S) normalised clip -> (T, S, S, 3) uint8 RGB, as the pixels went into the model."""
    pixels = (frames.detach().float().cpu() * decoder.std + decoder.mean).clamp(0, 1)
    return (pixels * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _bar(value: float, kind: str) -> str:
    width = min(100.0, abs(value) * 100)
    sign = " neg" if value < 0 else ""
    return f'<div class="track"><div class="bar {kind}{sign}" style="width:{width:.1f}%"></div></div>'


PAGE_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
.frames img{width:112px;height:112px;image-rendering:pixelated;margin:2px;border:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:3px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.track{width:160px;background:#eee;height:10px}.bar{height:10px}
.bar.out{background:#444}.bar.mm{background:#1f77b4}.bar.tri{background:#ff7f0e}.bar.mov{background:#2ca02c}
.bar.neg{opacity:.35}"""


def html_page(result: ClipResult, images: np.ndarray) -> str:
    """One self-contained page (no file or network access when opened)."""
    e = html.escape
    frames = "".join(
        f'<img class="frame" alt="frame {t + 1} of {len(images)}" '
        f'src="data:image/png;base64,{base64.b64encode(png_bytes(image)).decode()}">'
        for t, image in enumerate(images))
    actions = "".join(
        f'<tr class="action" data-action="{e(a.action)}" data-score="{a.score}" data-s-mm="{a.s_mm}" '
        f'data-s-tri="{a.s_tri}"><td>{rank}</td><td>{e(a.action)}</td>'
        f'<td class="num">{a.score:.4f}</td><td>{_bar(a.score, "out")}</td>'
        f'<td class="num">{a.s_mm:.4f}</td><td>{_bar(a.s_mm, "mm")}</td>'
        f'<td class="num">{a.s_tri:.4f}</td><td>{_bar(a.s_tri, "tri")}</td></tr>'
        for rank, a in enumerate(result.top, start=1))
    movements = "".join(
        f'<tr class="movement" data-movement="{e(m.movement)}" data-similarity="{m.similarity}" '
        f'data-support="{"" if m.support is None else m.support}"><td>{e(m.movement)}</td>'
        f'<td class="num">{m.similarity:.4f}</td><td>{_bar(m.similarity, "mov")}</td>'
        f'<td class="num">{"-" if m.support is None else f"{m.support:.2f}"}</td></tr>'
        for m in result.movements)
    top = result.top[0].action if result.top else ""
    data = json.dumps(result.model_dump(), ensure_ascii=True).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kgtoolkit classify: {e(Path(result.clip).name)}</title>
<style>{PAGE_STYLE}</style></head><body>
<h1>{e(Path(result.clip).name)}</h1><p class="clip">{e(result.clip)}</p>
<h2>The {len(images)} frames the model saw</h2><div class="frames">{frames}</div>
<h2>Top actions</h2><p>S_output = 1/2 S_mm (video-text cosine) + 1/2 S_tri (triplet score of video SHOWS action).</p>
<table class="actions"><tr><th>rank</th><th>action</th><th colspan="2">S_output</th><th colspan="2">S_mm</th>
<th colspan="2">S_tri</th></tr>{actions}</table>
<h2>Body movements supporting {e(top)}</h2>
<table class="movements"><tr><th>movement</th><th colspan="2">v-b triple score</th><th>support</th></tr>{movements}</table>
<script type="application/json" id="kgtoolkit-result">{data}</script>
</body></html>
"""


def png_figure(result: ClipResult, images: np.ndarray, path: Path) -> None:
    """The same content as one PNG, with the result in its `kgtoolkit:result` text chunk."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = len(images)
    columns = max(t, 4)
    fig = plt.figure(figsize=(9, 8))
    grid = fig.add_gridspec(3, columns, height_ratios=[1.2, 1.6, 1.3], hspace=0.45, left=0.3, right=0.86,
                            top=0.92, bottom=0.06)
    for i, image in enumerate(images):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(image)
        ax.set_axis_off()
        ax.set_title(f"frame {i + 1}", fontsize=8)
    left, right = fig.add_subplot(grid[1, :]), fig.add_subplot(grid[2, :])
    names = [a.action for a in result.top][::-1]
    rows = np.arange(len(names))
    height = 0.27
    for offset, key, label, colour in ((height, "s_mm", "S_mm", "#1f77b4"), (0.0, "s_tri", "S_tri", "#ff7f0e"),
                                       (-height, "score", "S_output", "#444444")):
        left.barh(rows + offset, [getattr(a, key) for a in result.top][::-1], height, label=label, color=colour)
    left.set_yticks(rows, names, fontsize=8)
    left.set_title("top actions: S_output = 1/2 S_mm + 1/2 S_tri", fontsize=9)
    left.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2)
    left.axvline(0, color="#999", linewidth=0.5)
    moves = result.movements[::-1]
    right.barh(np.arange(len(moves)), [m.similarity for m in moves], color="#2ca02c")
    right.set_yticks(np.arange(len(moves)),
                     [m.movement + ("" if m.support is None else f" (support {m.support:.2f})") for m in moves],
                     fontsize=8)
    right.axvline(0, color="#999", linewidth=0.5)
    right.set_title(f"body movements supporting {result.top[0].action if result.top else '-'}: v-b triple score",
                    fontsize=9)
    fig.suptitle(Path(result.clip).name, fontsize=10)
    fig.savefig(path, dpi=90, metadata={RESULT_KEY: json.dumps(result.model_dump(), ensure_ascii=True)})
    plt.close(fig)


class Explainer:
    """Writes NAME.png and NAME.html for each clip into `out_dir` (NAME: the clip's file name without
    its suffix; `-2`, `-3`, ... when two clips share one)."""

    def __init__(self, out_dir: Path, decoder: ClipDecoder):
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigurationError(f"--explain {out_dir}: cannot create the folder ({error.strerror})") from None
        self.out_dir, self.decoder = out_dir, decoder
        self._names: set[str] = set()

    def _name(self, clip: str) -> str:
        base = Path(clip).stem or "clip"
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}-{n}"
        self._names.add(name)
        return name

    def write(self, result: ClipResult, frames: torch.Tensor) -> tuple[Path, Path]:
        images = frames_to_images(frames, self.decoder)
        name = self._name(result.clip)
        page, picture = self.out_dir / f"{name}.html", self.out_dir / f"{name}.png"
        page.write_text(html_page(result, images), encoding="utf-8")
        png_figure(result, images, picture)
        return picture, page
