"""Running stages: one (a django-q2 task, via videos.tasks) or all in-process (the ingest
CLI, seed_demo, tests)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from videos.models import Video
from videos.pipeline.stages import STAGE_FUNCS
from videos.pipeline.state import Heartbeat, StaleRun, _start_stage, describe_unexpected, fail_video
from videos.pipeline.table import STAGE_TABLE

logger = logging.getLogger(__name__)


def run_stage(
    *,
    video_id: int,
    stage: str,
    attempt: int | None,
    on_progress: Callable[[float], None] | None = None,
) -> str | None:
    """Run one stage. Returns the next stage name to queue, or None (finished, failed or
    stale). Never raises for expected failures: the video is marked failed instead.
    WorkerStopping (the worker's SIGTERM, see videos.tasks) passes through."""
    from videos.captions import CaptionError
    from videos.media import MediaError
    from videos.providers import PipelineError, describe_provider_error

    try:
        video = _start_stage(video_id, stage, attempt)
    except (StaleRun, Video.DoesNotExist):
        logger.info("video %s: stage %s skipped (stale or gone)", video_id, stage)
        return None
    beat = Heartbeat(video, on_progress=on_progress)
    try:
        with beat:  # the pulse thread beats while the stage works
            STAGE_FUNCS[stage](video, beat)
    except (StaleRun, Video.DoesNotExist):
        logger.info("video %s: stage %s superseded", video_id, stage)
        return None
    except (MediaError, CaptionError, PipelineError, ImproperlyConfigured) as exc:
        fail_video(video_id=video_id, message=str(exc), attempt=video.attempts)
        return None
    except Exception as exc:
        message = _provider_message(exc, stage, describe_provider_error)
        if message is None:
            logger.exception("video %s: stage %s crashed", video_id, stage)
            message = describe_unexpected(stage, exc)
        fail_video(video_id=video_id, message=message, attempt=video.attempts)
        return None
    if on_progress:
        on_progress(1.0)
    return STAGE_TABLE[stage].next


def _provider_message(exc, stage, describe) -> str | None:
    try:
        import openai
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, openai.OpenAIError):
        service = "OpenAI Whisper" if stage == "transcribe" else "OpenAI embeddings"
        logger.warning("video stage %s: provider error %s", stage, type(exc).__name__)
        return describe(exc, service=service)
    return None


def run_all(
    video_id: int,
    *,
    start: str = "probe",
    on_stage: Callable[[str], None] | None = None,
    on_progress: Callable[[str, float], None] | None = None,
) -> Video:
    """Run the stages from `start` in this process (no worker), one after another, for the
    video's current attempt. Returns the refreshed video (completed or failed)."""
    attempt = Video.objects.values_list("attempts", flat=True).get(pk=video_id)
    stage: str | None = start
    while stage:
        if on_stage:
            on_stage(stage)
        cb = (lambda f, s=stage: on_progress(s, f)) if on_progress else None
        stage = run_stage(video_id=video_id, stage=stage, attempt=attempt, on_progress=cb)
    return Video.objects.get(pk=video_id)
