"""TensorBoard event files of a training run, in RUN_DIR/tensorboard (`tensorboard --logdir RUN_DIR`).

Beside metrics.jsonl and plots/ (which stay), rank 0 writes with torch.utils.tensorboard:
- every step: `loss/<part>` for each part of the loss (`loss/loss` is the total), `lr/<group>` for
  each optimizer group (backbone, graph, text), `throughput/clips_per_s` (all ranks' clips);
- every epoch: `epoch/train_<part>` (the epoch's means), `val/top1`, `val/top5` (S_output),
  `val/s_mm_top1`, `val/s_tri_top1`, `throughput/epoch_clips_per_s`, and the validation confusion
  matrix as the image `confusion/val`;
- at the end: `test/top1`, `test/top5`, the image `confusion/test`, and the learned embeddings for the
  projector: `Action` and `BodyMovement` (text embeddings; metadata name, id) and `Video` (video
  embeddings of every video that decodes, as evaluation decodes them; metadata name, split, action).

A resumed run purges the events logged after the checkpoint it resumes from (SummaryWriter's
`purge_step`), so the curves show each step once.
"""

from __future__ import annotations

from pathlib import Path

import torch

TB_DIR = "tensorboard"


def confusion_figure(confusion: list[list[int]], names: list[str], title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(names)
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * n), max(4, 0.4 * n)))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(n), names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    return fig


class TensorBoardLog:
    """A no-op unless `enabled` (rank 0); `purge_step`: the first step of a resumed run."""

    def __init__(self, run_dir: Path, enabled: bool = True, purge_step: int | None = None):
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(Path(run_dir) / TB_DIR), purge_step=purge_step or None)

    def step(self, step: int, losses: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
             clips_per_s: float) -> None:
        if self.writer is None:
            return
        for key, value in losses.items():
            self.writer.add_scalar(f"loss/{key}", float(value.detach()), step)
        lrs: dict[str, float] = {}
        for group in optimizer.param_groups:  # a group with and one without weight decay share a name
            lrs.setdefault(group.get("name", "all"), group["lr"])
        for name, lr in lrs.items():
            self.writer.add_scalar(f"lr/{name}", lr, step)
        self.writer.add_scalar("throughput/clips_per_s", clips_per_s, step)

    def epoch(self, step: int, record: dict, val: dict, class_names: list[str]) -> None:
        """`record`: the epoch's metrics.jsonl record; `val`: evaluate()'s result on the validation split."""
        if self.writer is None:
            return
        for key, value in record.items():
            if key.startswith("train_") and value is not None:
                self.writer.add_scalar(f"epoch/{key}", value, step)
        for key, tag in (("val_top1", "val/top1"), ("val_top5", "val/top5"), ("val_s_mm_top1", "val/s_mm_top1"),
                         ("val_s_tri_top1", "val/s_tri_top1"), ("clips_per_s", "throughput/epoch_clips_per_s")):
            if record.get(key) is not None:
                self.writer.add_scalar(tag, record[key], step)
        if val.get("confusion"):
            self.writer.add_figure("confusion/val", confusion_figure(
                val["confusion"], class_names, f"validation, epoch {record['epoch']} (top-1 {val['top1']:.1%})"), step)
        self.writer.flush()

    def test(self, step: int, test: dict, class_names: list[str]) -> None:
        if self.writer is None or not test.get("videos"):
            return
        self.writer.add_scalar("test/top1", test["top1"], step)
        self.writer.add_scalar("test/top5", test["top5"], step)
        if test.get("confusion"):
            self.writer.add_figure("confusion/test", confusion_figure(
                test["confusion"], class_names, f"test (top-1 {test['top1']:.1%})"), step)

    def embeddings(self, step: int, tables: dict[str, tuple[torch.Tensor, list[list[str]], list[str]]]) -> None:
        """label -> (vectors (N, D), metadata rows, metadata header), for the embedding projector."""
        if self.writer is None:
            return
        for label, (vectors, rows, header) in tables.items():
            if len(rows):
                self.writer.add_embedding(vectors.detach().float().cpu(), metadata=rows, metadata_header=header,
                                          tag=label, global_step=step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@torch.no_grad()
def learned_embeddings(model, data, action_tokens: torch.Tensor, movement_tokens: torch.Tensor, decoder, runtime,
                       batch_size: int, workers: int) -> dict[str, tuple[torch.Tensor, list[list[str]], list[str]]]:
    """The run's Action, BodyMovement (text) and Video embeddings, L2-normalised, with their metadata."""
    from kgtoolkit.runs import iter_encoded
    from kgtoolkit.train.loop import clip_specs  # here: the loop imports this module

    model.eval()
    normalise = torch.nn.functional.normalize
    actions = normalise(model.encode_text(action_tokens.to(runtime.device)).float(), dim=-1)
    movements = normalise(torch.cat([model.encode_text(movement_tokens[i: i + 256].to(runtime.device)).float()
                                     for i in range(0, len(movement_tokens), 256)]), dim=-1) \
        if len(movement_tokens) else torch.zeros(0, model.embed_dim)
    videos = [v for v in data.videos if v.path]
    vectors, kept = [], []
    for batch in iter_encoded(model, clip_specs(videos), decoder, runtime, batch_size, workers):
        if batch.vectors is not None:
            vectors.append(normalise(batch.vectors, dim=-1))
            kept.extend(batch.indices)
    model.train()
    video_rows = [[videos[i].id.removeprefix("video:"), videos[i].split, data.action_names[videos[i].action]]
                  for i in kept]
    return {
        "Action": (actions, [[n, i] for n, i in zip(data.action_names, data.actions)], ["name", "id"]),
        "BodyMovement": (movements, [[n, i] for n, i in zip(data.movement_names, data.movements)], ["name", "id"]),
        "Video": (torch.cat(vectors) if vectors else torch.zeros(0, model.embed_dim), video_rows,
                  ["name", "split", "action"]),
    }
