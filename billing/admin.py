"""Admin for the usage ledger, Whop payments, plan->tier mappings and billing standing."""

from __future__ import annotations

from django.contrib import admin

from billing.models import BillingAccount, Payment, PlanTierMapping, UsageLedgerEntry


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
