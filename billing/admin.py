"""Admin for the usage ledger, Whop payments, plan->tier mappings and billing standing."""

from __future__ import annotations

from django.contrib import admin

from billing.models import (
    BillingAccount,
    Payment,
    PlanTierMapping,
    QuestionUsage,
    RateCounter,
    TierChange,
    UsageAlert,
    UsageLedgerEntry,
)


@admin.register(UsageLedgerEntry)
class UsageLedgerEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "creator",
        "operation",
        "provider",
        "model",
        "units",
        "unit",
        "usd",
        "subject",
    )
    list_filter = ("operation", "provider", "model", "created_at")
    search_fields = ("creator__handle", "subject", "model")
    date_hierarchy = "created_at"
    list_select_related = ("creator",)
    readonly_fields = [f.name for f in UsageLedgerEntry._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(PlanTierMapping)
class PlanTierMappingAdmin(admin.ModelAdmin):
    list_display = ("whop_plan_id", "tier", "label", "created_at")
    list_filter = ("tier",)
    search_fields = ("whop_plan_id", "label")


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "whop_payment_id",
        "creator",
        "status",
        "amount",
        "currency",
        "whop_plan_id",
        "tier_applied",
        "occurred_at",
    )
    list_filter = ("status", "currency", "tier_applied", "occurred_at")
    search_fields = ("whop_payment_id", "whop_plan_id", "whop_user_id", "creator__handle")
    date_hierarchy = "occurred_at"
    list_select_related = ("creator",)
    autocomplete_fields = ("creator",)


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = ("creator", "status", "status_updated_at", "tier_updated_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("creator__handle", "creator__company_name")
    autocomplete_fields = ("creator",)


class _ReadOnly(admin.ModelAdmin):
    """Facts recorded by billing's services: viewable, not editable by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QuestionUsage)
class QuestionUsageAdmin(_ReadOnly):
    list_display = ("asked_at", "creator", "user", "source")
    list_filter = ("source", "asked_at")
    search_fields = ("creator__handle", "user__email")
    date_hierarchy = "asked_at"
    list_select_related = ("creator", "user")


@admin.register(TierChange)
class TierChangeAdmin(_ReadOnly):
    list_display = (
        "occurred_at",
        "creator",
        "from_tier",
        "to_tier",
        "status",
        "reason",
        "effective_at",
        "webhook_id",
    )
    list_filter = ("status", "reason", "to_tier")
    search_fields = ("creator__handle", "webhook_id", "whop_membership_id", "whop_payment_id")
    list_select_related = ("creator",)


@admin.register(UsageAlert)
class UsageAlertAdmin(_ReadOnly):
    list_display = ("created_at", "creator", "limit", "percent", "period_start", "sent_to")
    list_filter = ("limit",)
    search_fields = ("creator__handle",)
    list_select_related = ("creator",)


@admin.register(RateCounter)
class RateCounterAdmin(_ReadOnly):
    list_display = ("key", "value", "expires")
