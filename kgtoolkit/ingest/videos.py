"""Probing a video file: frame count, frame rate and size, or why it cannot be read.

PyAV walks the container's packets without decoding them (a frame count that does not depend
on the index alone, so a truncated file is caught) and decodes only the first frame; decoding
the last frame instead would decode the whole clip when it has one keyframe. decord reads the
same files at training time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgtoolkit.errors import VideoError


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    width: int
    height: int


def probe_video(path: Path) -> VideoInfo:
    try:
        if path.stat().st_size == 0:
            raise VideoError("empty file")
    except OSError as error:
        raise VideoError(f"cannot read: {error.strerror}") from None
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise VideoError("holds no video stream")
            stream = container.streams.video[0]
            listed = stream.frames  # what the index claims (0 when the container does not say)
            first = None
            packets = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the flush packet at the end
                packets += 1
                if first is None:
                    for frame in packet.decode():
                        first = frame
                        break
            if first is None:
                for frame in stream.codec_context.decode(None):  # frames held back by the decoder
                    first = frame
                    break
            rate = stream.average_rate or stream.guessed_rate
    except VideoError:
        raise
    except Exception as error:  # av.error.* (InvalidDataError, EOFError, ...)
        reason = " ".join(str(error).replace(f": '{path}'", "").split())[:160] or type(error).__name__
        raise VideoError(f"not a readable video ({reason})") from None
    if packets == 0 or first is None:
        raise VideoError("holds no decodable frames")
    if listed and packets < listed:
        raise VideoError(f"truncated: its index lists {listed} frames, the file holds {packets}")
    return VideoInfo(frames=packets, fps=round(float(rate or 0), 3), width=first.width, height=first.height)
