"""PNG plots of a run: loss and accuracy curves, and the test confusion matrix."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write_plots(run_dir: Path, history: list[dict], test: dict, class_names: list[str]) -> None:
    out = run_dir / "plots"
    out.mkdir(exist_ok=True)
    epochs = [r["epoch"] for r in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key in sorted({k for r in history for k in r if k.startswith("train_")}):
        left.plot(epochs, [r.get(key) for r in history], label=key.removeprefix("train_"))
    left.set(xlabel="epoch", ylabel="training loss", title="loss")
    left.legend()
    for key in ("val_top1", "val_top5", "val_s_mm_top1", "val_s_tri_top1"):
        if any(r.get(key) is not None for r in history):
            right.plot(epochs, [r.get(key) for r in history], label=key)
    right.set(xlabel="epoch", ylabel="accuracy", title="validation", ylim=(0, 1))
    right.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
    if test.get("confusion"):
        n = len(class_names)
        fig, ax = plt.subplots(figsize=(max(5, 0.45 * n), max(4, 0.4 * n)))
        ax.imshow(test["confusion"], cmap="Blues")
        ax.set_xticks(range(n), class_names, rotation=90, fontsize=7)
        ax.set_yticks(range(n), class_names, fontsize=7)
        ax.set(xlabel="predicted", ylabel="true", title=f"test confusion (top-1 {test['top1']:.1%})")
        fig.tight_layout()
        fig.savefig(out / "confusion.png", dpi=100)
        plt.close(fig)
