"""Routes of the identity app. Mounted at /v1/auth and /v1/users by the gateway; paths carry
their leading slash so canonical URLs have no trailing one (/v1/users/me)."""

from django.urls import path

from . import views

auth_urlpatterns = [
    path("/register", views.RegisterView.as_view(), name="auth-register"),
    path("/token", views.LoginView.as_view(), name="auth-token"),
    path("/token/refresh", views.RefreshView.as_view(), name="auth-token-refresh"),
    path("/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("/reauthenticate", views.ReauthenticateView.as_view(), name="auth-reauthenticate"),
    path("/password/change", views.PasswordChangeView.as_view(), name="auth-password-change"),
    path("/password/reset", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "/password/reset/confirm",
        views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
]

users_urlpatterns = [
    path("", views.StaffUserListView.as_view(), name="users-list"),
    path("/me", views.MeView.as_view(), name="users-me"),
    path("/me/sessions", views.SessionListView.as_view(), name="users-me-sessions"),
    path(
        "/me/sessions/<uuid:session_id>",
        views.SessionDetailView.as_view(),
        name="users-me-session-detail",
    ),
    path("/<uuid:user_id>", views.StaffUserDetailView.as_view(), name="users-detail"),
]
