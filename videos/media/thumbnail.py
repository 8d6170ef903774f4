"""A JPEG thumbnail from a video frame, skipping (nearly) black frames."""

from __future__ import annotations

import io
import logging
import os

import av

from videos.media.probe import _duration, _open

logger = logging.getLogger(__name__)


# How far into a video the thumbnail frame is taken (fraction of the duration), and the
# fallbacks tried when that frame is (nearly) black.
THUMBNAIL_POSITIONS = (0.10, 0.25, 0.5, 0.0)
THUMBNAIL_MAX_WIDTH = 640
_BLACK_LUMA = 16  # mean 8-bit luma below this counts as a black frame


def thumbnail_jpeg(path: str | os.PathLike, *, duration: float | None = None) -> bytes | None:
    """A JPEG (bytes, at most THUMBNAIL_MAX_WIDTH px wide) of a representative frame, taken
    ~10% into the video (later positions tried when that frame is black). None for audio
    or when no frame can be decoded (a missing thumbnail never fails the pipeline)."""
    from PIL import Image, ImageStat

    try:
        container = _open(path)
    except av.error.FFmpegError:
        return None
    try:
        streams = [
            s
            for s in container.streams.video
            if not (s.disposition & av.stream.Disposition.attached_pic)
        ]
        if not streams:
            return None
        stream = streams[0]
        stream.thread_type = "AUTO"
        dur = duration or _duration(container, [stream]) or 0.0
        fallback = None
        for frac in THUMBNAIL_POSITIONS:
            image = _frame_at(container, stream, dur * frac)
            if image is None:
                continue
            luma = ImageStat.Stat(image.convert("L")).mean[0]
            if fallback is None:
                fallback = image
            if luma >= _BLACK_LUMA:
                fallback = image
                break
        if fallback is None:
            return None
        img = fallback.convert("RGB")
        if img.width > THUMBNAIL_MAX_WIDTH:
            h = round(img.height * THUMBNAIL_MAX_WIDTH / img.width)
            img = img.resize((THUMBNAIL_MAX_WIDTH, max(1, h)), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=82, optimize=True)
        return buf.getvalue()
    except av.error.FFmpegError:
        logger.info("thumbnail: could not decode a frame of %s", path, exc_info=True)
        return None
    finally:
        container.close()


def _frame_at(container, stream, seconds: float):
    """The first decodable frame at or after `seconds` as a PIL image, or None."""
    try:
        if seconds > 0 and stream.time_base:
            container.seek(int(seconds / stream.time_base), stream=stream, backward=True)
        elif seconds <= 0:
            container.seek(0, stream=stream, backward=True)
    except av.error.FFmpegError:
        return None
    target = seconds
    last = None
    try:
        for i, frame in enumerate(container.decode(stream)):
            last = frame
            t = frame.time if frame.time is not None else 0.0
            if t >= target - 0.05 or i > 300:
                return frame.to_image()
    except av.error.FFmpegError:
        pass
    return last.to_image() if last is not None else None
