"""Studio pages of billing: settings, Plan & usage, upgrades, Costs (+ CSV)."""

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("studio/<slug:handle>/settings/", views.studio_settings, name="studio"),
    path("studio/<slug:handle>/plan/", views.plan, name="plan"),
    path("studio/<slug:handle>/plan/upgrade/", views.upgrade, name="upgrade"),
    path("studio/<slug:handle>/costs/", views.costs_page, name="costs"),
    path("studio/<slug:handle>/costs.csv", views.costs_csv, name="costs_csv"),
]
