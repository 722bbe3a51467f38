"""Mounted under ADMIN_URL (fitness.urls); admin_view gives the admin's access rules."""

from django.contrib import admin
from django.urls import path

from analytics import dashboard

urlpatterns = [
    path("", admin.site.admin_view(dashboard.dashboard), name="analytics-dashboard"),
    path(
        "<slug:name>.csv",
        admin.site.admin_view(dashboard.rollup_csv),
        name="analytics-dashboard-csv",
    ),
]
