from django.urls import path

from shop.accounts import api, views

app_name = "accounts"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out_view, name="logout"),
    path("logout/everywhere/", views.sign_out_everywhere_view, name="logout_everywhere"),
    path("password/change/", views.ChangePasswordView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        views.ChangePasswordDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", views.ResetPasswordView.as_view(), name="password_reset"),
    path("password/reset/done/", views.ResetPasswordDoneView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        views.ResetPasswordConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("reset/done/", views.ResetPasswordCompleteView.as_view(), name="password_reset_complete"),
]

api_urlpatterns = [
    path("register/", api.RegisterView.as_view(), name="register"),
    path("login/", api.LoginView.as_view(), name="login"),
    path("logout/", api.LogoutView.as_view(), name="logout"),
    path("logout/everywhere/", api.LogoutEverywhereView.as_view(), name="logout-everywhere"),
    path("me/", api.MeView.as_view(), name="me"),
    path("password/change/", api.PasswordChangeView.as_view(), name="password-change"),
    path("password/reset/", api.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password/reset/confirm/",
        api.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
]
