from django.urls import path

from accounts.api import views

auth_urlpatterns = [
    path("register", views.RegisterView.as_view(), name="auth-register"),
    path("login", views.LoginView.as_view(), name="auth-login"),
    path("refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("firebase", views.FirebaseExchangeView.as_view(), name="auth-firebase"),
    path("logout", views.LogoutView.as_view(), name="auth-logout"),
    path("reset-password", views.PasswordResetView.as_view(), name="auth-reset-password"),
    path(
        "reset-password/confirm",
        views.PasswordResetConfirmView.as_view(),
        name="auth-reset-password-confirm",
    ),
    path("me", views.MeView.as_view(), name="auth-me"),
]

users_urlpatterns = [
    path("me", views.AccountView.as_view(), name="users-me"),
    path("me/export", views.DataExportsView.as_view(), name="users-me-export"),
    path(
        "me/export/<uuid:export_id>",
        views.DataExportDetailView.as_view(),
        name="users-me-export-detail",
    ),
    path("profile", views.ProfileView.as_view(), name="users-profile"),
    path("settings", views.SettingsView.as_view(), name="users-settings"),
    path("stats", views.StatsView.as_view(), name="users-stats"),
    path("preferences", views.PreferencesView.as_view(), name="users-preferences"),
]
