"""Moved to `kgtoolkit.media` (probing a video file); kept for imports."""

from kgtoolkit.media import VideoError, VideoInfo, probe_video

__all__ = ["VideoError", "VideoInfo", "probe_video"]
