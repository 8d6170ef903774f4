from django.apps import AppConfig


class VideosConfig(AppConfig):
    name = "videos"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Billing meters videos and storage (and enforces upload limits) through this.
        from billing.meters import register_labeler, register_library_usage
        from videos.selectors import library_usage, video_titles

        register_library_usage(library_usage)
        register_labeler("video", video_titles)

        from chronos.schedules import schedules_connect
        from videos.tasks import SCHEDULES

        schedules_connect(self, SCHEDULES)
