"""`manage.py reembed [--creator SLUG] [--all]`: bring stored vectors to the active
embedder (after switching CHRONOS_EMBEDDER or models).

Re-embeds chunks and windows of completed videos whose embedding_model differs from the
active embedder's model (or every one with --all). Writes ledger rows like the pipeline.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q


class Command(BaseCommand):
    help = "Re-embed chunks/windows made by another embedding model than the active one."

    def add_arguments(self, parser):
        parser.add_argument("--creator", help="only this creator's videos (handle)")
        parser.add_argument(
            "--all", action="store_true", help="re-embed everything, even current vectors"
        )

    def handle(self, *args, **opts):
        from tqdm import tqdm

        from creators.models import Creator
        from videos.embedders import get_embedder
        from videos.models import SegmentWindow, Video, VideoChunk
        from videos.pipeline import embed_video, video_cost_update

        embedder = get_embedder()
        if embedder is None:
            raise CommandError(
                "No embedder is configured (CHRONOS_EMBEDDER=none, or auto without "
                "OPENAI_API_KEY). Full-text search works without vectors."
            )
        videos = Video.objects.filter(status=Video.Status.COMPLETED).select_related("creator")
        if opts.get("creator"):
            creator = Creator.objects.filter(handle=opts["creator"]).first()
            if creator is None:
                raise CommandError(f"No creator with handle {opts['creator']!r}.")
            videos = videos.filter(creator=creator)
        model = embedder.model_name
        if opts["all"]:
            VideoChunk.objects.filter(video__in=videos).update(embedding_model="")
            SegmentWindow.objects.filter(video__in=videos).update(embedding_model="")
        stale = Q(embedding__isnull=True) | ~Q(embedding_model=model)
        todo = [
            v
            for v in videos
            if VideoChunk.objects.filter(video=v).filter(stale).exists()
            or SegmentWindow.objects.filter(video=v).filter(stale).exists()
        ]
        total = 0
        for video in tqdm(todo, desc="Videos", unit="video", file=self.stderr._out):
            total += embed_video(video, embedder)
            video_cost_update(video)
        self.stdout.write(f"Re-embedded {total} texts in {len(todo)} videos with {model}.")
