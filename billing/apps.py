from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed_plan_mappings(sender, **kwargs) -> None:
    from billing.services.checkout import plan_mappings_seed

    plan_mappings_seed()


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register payment.* and tier-plan membership/refund/dispute handlers into creators'
        # webhook dispatch table; seed PlanTierMapping from WHOP_PLAN_* after migrate.
        from billing import handlers, tier_handlers  # noqa: F401

        post_migrate.connect(_seed_plan_mappings, sender=self, dispatch_uid="billing.seed_plans")

        from billing.tasks import SCHEDULES
        from chronos.schedules import schedules_connect

        schedules_connect(self, SCHEDULES)
