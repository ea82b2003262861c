"""The storefront's account pages: register, sign in and out, change or reset the password."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from shop.accounts.forms import ChangePasswordForm, RegisterForm, ResetPasswordForm, SignInForm
from shop.accounts.services import (
    change_password,
    register_user,
    send_password_reset,
    sign_in,
    sign_out,
    sign_out_everywhere,
)
from shop.ratelimits import (
    limit_password_checks,
    ratelimit,
    reset_link_account,
    signed_in_account,
    signing_in_account,
)


def _next_url(request: HttpRequest) -> str:
    """Return the `next` address the form carried if it is on this site, else the home page."""
    url = request.POST.get("next") or request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if safe else resolve_url(settings.LOGIN_REDIRECT_URL)


@ratelimit("registration")  # counts POSTs only
def register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        user = register_user(email=email, password=form.cleaned_data["password1"])
        if user is not None:  # else the address has an account, whose owner is e-mailed
            sign_in(request=request, user=user)
        messages.success(request, f"Welcome! Your account {email} is ready.")
        return redirect(_next_url(request))
    next_url = request.POST.get("next") or request.GET.get("next", "")
    return render(request, "accounts/register.html", {"form": form, "next": next_url})


@method_decorator(limit_password_checks(signing_in_account), name="post")
class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "accounts/login.html"

    def form_valid(self, form: SignInForm) -> HttpResponse:
        # sign_in rather than Django's login: it also runs the hooks that merge the guest cart.
        user = form.get_user()
        sign_in(request=self.request, user=user)
        messages.success(self.request, f"Signed in as {user.email}.")
        return HttpResponseRedirect(self.get_success_url())


@require_POST
def sign_out_view(request: HttpRequest) -> HttpResponse:
    sign_out(request=request)
    messages.success(request, "You have signed out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


@require_POST
@login_required
def sign_out_everywhere_view(request: HttpRequest) -> HttpResponse:
    sign_out_everywhere(request=request)
    messages.success(request, "You have signed out on every device.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


@method_decorator(limit_password_checks(signed_in_account), name="post")
class ChangePasswordView(auth_views.PasswordChangeView):
    form_class = ChangePasswordForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: ChangePasswordForm) -> HttpResponse:
        change_password(request=self.request, password=form.cleaned_data["new_password1"])
        return HttpResponseRedirect(self.get_success_url())


class ChangePasswordDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


@method_decorator(ratelimit("password_reset_ip", "password_reset_account"), name="post")
class ResetPasswordView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form) -> HttpResponse:
        send_password_reset(email=form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())


class ResetPasswordDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class ResetPasswordConfirmView(auth_views.PasswordResetConfirmView):
    form_class = ResetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        dispatch = super().dispatch
        if kwargs.get("token") != self.reset_url_token:
            # The link's token is checked on opening it (GET): a secret to guess, so limited.
            # The set-password page after it checks the copy kept in this session instead.
            dispatch = limit_password_checks(reset_link_account, methods=("GET", "POST"))(dispatch)
        return dispatch(request, *args, **kwargs)


class ResetPasswordCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
