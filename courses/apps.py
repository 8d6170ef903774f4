from django.apps import AppConfig
from django.db.models.signals import post_save


class CoursesConfig(AppConfig):
    name = "courses"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chronos.schedules import schedules_connect
        from courses.selectors import video_view_allowed
        from courses.signals import membership_saved
        from courses.tasks import SCHEDULES
        from creators.models import Membership
        from videos.access import register_view_filter

        post_save.connect(membership_saved, sender=Membership, dispatch_uid="courses-membership")
        schedules_connect(self, SCHEDULES)
        # Locked lessons cannot be streamed (videos asks; it cannot import courses).
        register_view_filter(video_view_allowed)
        # Billing's Costs page names courses through this (billing cannot import courses).
        from billing.meters import register_labeler
        from courses.models import Course

        register_labeler(
            "course",
            lambda creator, ids: dict(
                Course.objects.filter(creator=creator, pk__in=ids).values_list("pk", "title")
            ),
        )
