"""Admin for people, tenants and Whop deliveries."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.html import format_html

from creators.models import Creator, CreatorMember, Invite, Membership, User, WebhookEvent
from creators.services import (
    creator_deactivate,
    creator_deletion_cancel,
    creator_reactivate,
    webhook_replay,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "display_name", "whop_user_id", "is_staff", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("username", "email", "display_name", "whop_user_id")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Whop", {"fields": ("whop_user_id", "display_name", "avatar_url")}),
    )


class CreatorMemberInline(admin.TabularInline):
    model = CreatorMember
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Creator)
class CreatorAdmin(admin.ModelAdmin):
    list_display = (
        "company_name",
        "handle",
        "owner",
        "tier",
        "is_active",
        "whop_company_id",
        "deletion_scheduled_at",
        "created_at",
    )
    list_filter = ("tier", "is_active", ("deletion_scheduled_at", admin.EmptyFieldListFilter))
    search_fields = ("company_name", "handle", "whop_company_id", "owner__email", "owner__username")
    readonly_fields = ("created_at", "updated_at", "installation_updated_at", "deactivated_at")
    autocomplete_fields = ("owner",)
    inlines = [CreatorMemberInline]
    actions = ["deactivate", "reactivate", "cancel_deletion"]

    @admin.action(description="Deactivate (keep data, no deletion scheduled)")
    def deactivate(self, request, queryset):
        for creator in queryset:
            creator_deactivate(creator=creator)
        self.message_user(request, f"Deactivated {queryset.count()} creator(s).")

    @admin.action(description="Reactivate (and cancel scheduled deletion)")
    def reactivate(self, request, queryset):
        for creator in queryset:
            creator_reactivate(creator=creator)
        self.message_user(request, f"Reactivated {queryset.count()} creator(s).")

    @admin.action(description="Cancel scheduled deletion (stay inactive)")
    def cancel_deletion(self, request, queryset):
        for creator in queryset:
            creator_deletion_cancel(creator=creator)
        self.message_user(request, f"Cancelled deletion for {queryset.count()} creator(s).")


@admin.register(CreatorMember)
class CreatorMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "creator", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__username", "creator__handle", "creator__company_name")
    autocomplete_fields = ("user", "creator")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "creator",
        "status",
        "source",
        "whop_membership_id",
        "plan_id",
        "valid_until",
        "source_updated_at",
    )
    list_filter = ("status", "source", "creator")
    search_fields = (
        "user__email",
        "user__username",
        "user__whop_user_id",
        "whop_membership_id",
        "creator__handle",
    )
    autocomplete_fields = ("user", "creator")
    readonly_fields = ("created_at", "updated_at")


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ("creator", "email", "uses", "max_uses", "expires_at", "revoked_at")
    list_filter = ("creator",)
    search_fields = ("email", "creator__handle")
    readonly_fields = ("token", "uses", "created_at")


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "type",
        "status",
        "company_id",
        "event_timestamp",
        "received",
        "processed",
        "attempts",
        "next_attempt_at",
    )
    list_filter = ("status", "type", "received")
    search_fields = ("webhook_id", "type", "company_id")
    date_hierarchy = "received"
    readonly_fields = (
        "webhook_id",
        "type",
        "company_id",
        "event_timestamp",
        "received",
        "processed",
        "status",
        "attempts",
        "next_attempt_at",
        "error",
        "payload_pretty",
    )
    exclude = ("payload",)
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Payload")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    @admin.action(description="Replay (process again)")
    def replay(self, request, queryset):
        results: dict[str, int] = {}
        for event in queryset:
            status = webhook_replay(event=event)
            results[status] = results.get(status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(results.items()))
        level = messages.WARNING if "failed" in results else messages.SUCCESS
        self.message_user(request, f"Replayed: {summary}.", level=level)
