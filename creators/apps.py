from django.apps import AppConfig


class CreatorsConfig(AppConfig):
    name = "creators"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Webhook handlers for app installations and memberships; logout -> token revoke.
        from chronos.schedules import schedules_connect
        from creators import handlers, signals  # noqa: F401
        from creators.tasks import SCHEDULES

        schedules_connect(self, SCHEDULES)
