"""`manage.py ingest PATH [--captions FILE] --creator SLUG [--title T] [--create-creator]
[--wait]`: add a lecture to a creator's library from the command line."""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chronos.errors import DomainError
from creators.models import Creator
from videos.models import SegmentWindow, TranscriptSegment, Video, VideoChunk

STAGE_NAMES = {
    "probe": "Probe",
    "transcribe": "Transcribe",
    "chunk": "Chunk",
    "embed": "Embed",
}


class Command(BaseCommand):
    help = (
        "Ingest a video or audio file for a creator. With --wait the stages run in this "
        "process with a progress bar each, and the exit code is non-zero if it fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="video or audio file")
        parser.add_argument("--captions", help=".vtt or .srt captions for the file")
        parser.add_argument("--creator", required=True, help="creator handle (slug)")
        parser.add_argument("--title", default="", help="title (default: from the file name)")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--create-creator",
            action="store_true",
            help="create the creator (no owner) if the handle is unknown",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="process now in this process and report the result",
        )

    def handle(self, *args, **opts):
        from videos.services import pipeline_enqueue, video_create

        path = Path(opts["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        captions_path = Path(opts["captions"]) if opts.get("captions") else None
        if captions_path is not None and not captions_path.is_file():
            raise CommandError(f"No such captions file: {captions_path}")
        creator = self._creator(opts["creator"], create=opts["create_creator"])

        cap_fh = open(captions_path, "rb") if captions_path else None  # noqa: SIM115
        try:
            with open(path, "rb") as fh, transaction.atomic():
                video = video_create(
                    creator=creator,
                    file=File(fh, name=path.name),
                    filename=path.name,
                    title=opts["title"],
                    description=opts["description"],
                    captions=File(cap_fh, name=captions_path.name) if cap_fh else None,
                    captions_filename=captions_path.name if captions_path else None,
                    enqueue=False,
                )
        except DomainError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        finally:
            if cap_fh:
                cap_fh.close()

        if not opts["wait"]:
            pipeline_enqueue(video=video)
            self.stdout.write(f"Queued video {video.pk} ({video.title}) for {creator.handle}.")
            return
        self._run_with_bars(video)

    def _creator(self, handle: str, *, create: bool) -> Creator:
        creator = Creator.objects.filter(handle=handle).first()
        if creator is not None:
            return creator
        if not create:
            raise CommandError(
                f"No creator with handle {handle!r}. Pass --create-creator to create it."
            )
        from creators.services import creator_create

        creator = creator_create(
            company_name=handle.replace("-", " ").title(), owner=None, handle=handle
        )
        self.stdout.write(f"Created creator {creator.handle}.")
        return creator

    def _run_with_bars(self, video: Video) -> None:
        from tqdm import tqdm

        from videos.pipeline import run_all

        bars: dict[str, tqdm] = {}

        def on_stage(stage: str) -> None:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(
                total=100,
                desc=f"{STAGE_NAMES[stage]:<10}",
                unit="%",
                file=self.stderr._out,
                bar_format="{desc} {bar} {n_fmt}% [{elapsed}]",
                leave=True,
            )

        def on_progress(stage: str, fraction: float) -> None:
            bar = bars.get(stage)
            if bar is not None:
                target = round(fraction * 100)
                if target > bar.n:
                    bar.update(target - bar.n)

        try:
            video = run_all(video.pk, on_stage=on_stage, on_progress=on_progress)
        finally:
            for stage, bar in bars.items():
                if video.status == Video.Status.COMPLETED or stage != video.stage:
                    bar.update(100 - bar.n)
                bar.close()
        segments = TranscriptSegment.objects.filter(video=video).count()
        chunks = VideoChunk.objects.filter(video=video).count()
        windows = SegmentWindow.objects.filter(video=video).count()
        embedded = VideoChunk.objects.filter(video=video, embedding__isnull=False).count()
        self.stdout.write(
            f"Video {video.pk} ({video.title}): status {video.status}; "
            f"{segments} segments, {chunks} chunks, {windows} windows, "
            f"{embedded} chunks embedded; source {video.transcript_source or '-'}; "
            f"cost ${video.processing_cost_usd}"
        )
        if video.status != Video.Status.COMPLETED:
            raise CommandError(f"Video {video.pk} failed: {video.error}")
