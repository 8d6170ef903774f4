from django.apps import AppConfig


def _library_changed(sender, creator_id: int, **kwargs) -> None:
    """A creator's library changed: recalibrate retrieval off the request path."""
    from chat.retrieval import calibration_schedule

    calibration_schedule(creator_id=creator_id)


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from videos.signals import library_changed

        library_changed.connect(_library_changed, dispatch_uid="chat.calibration")

        from chat.heat import citations_per_video
        from courses.heat import register_citation_counter

        register_citation_counter(citations_per_video)
