"""Analytics rollups in the admin: read-only, because they are rebuilt from the raw facts
(`manage.py analytics_rebuild`); an edit here would be silently overwritten."""

from django.apps import apps
from django.contrib import admin


class RollupAdmin(admin.ModelAdmin):
    """Browse and filter by creator; no add, change or delete."""

    list_filter = ("creator",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


for model in apps.get_app_config("analytics").get_models():
    admin.site.register(model, RollupAdmin)
