from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics.tasks import SCHEDULES
        from chronos.schedules import schedules_connect

        schedules_connect(self, SCHEDULES)
