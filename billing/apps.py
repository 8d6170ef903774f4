from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register payment.* handlers into creators' webhook dispatch table.
        from billing import handlers  # noqa: F401
