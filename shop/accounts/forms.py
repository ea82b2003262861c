"""The storefront's account forms: registration, sign-in and setting a password from a link."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)
from django.core.validators import MaxLengthValidator

from shop.accounts.exceptions import InvalidCredentials
from shop.accounts.models import User
from shop.accounts.services import EMAIL_MAX_LENGTH, PASSWORD_MAX_LENGTH, reset_password


def _password_field(label: str, autocomplete: str, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
        **kwargs,
    )


def _limit_password_lengths(form: forms.Form) -> None:
    """Give Django's own password fields the shop's maximum length."""
    for field in form.fields.values():
        if isinstance(field.widget, forms.PasswordInput):
            field.max_length = PASSWORD_MAX_LENGTH
            field.validators.append(MaxLengthValidator(PASSWORD_MAX_LENGTH))
            field.widget.attrs["maxlength"] = str(PASSWORD_MAX_LENGTH)


class RegisterForm(forms.Form):
    email = forms.EmailField(
        label="E-mail",
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password1 = _password_field(
        "Password", "new-password", help_text=password_validators_help_text_html()
    )
    password2 = _password_field("Confirm password", "new-password")

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"]).lower()

    def clean(self) -> dict:
        data = super().clean()
        email, password = data.get("email"), data.get("password1")
        if password and data.get("password2") and password != data["password2"]:
            self.add_error("password2", "The two passwords do not match.")
        elif password:
            try:
                validate_password(password, user=User(email=email or ""))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class SignInForm(AuthenticationForm):
    """Django's sign-in form, asking for the e-mail address and as vague as the API on failure."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": InvalidCredentials.default_detail,
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        field = self.fields["username"]
        field.label = "E-mail"
        field.widget.input_type = "email"
        field.widget.attrs["autocomplete"] = "email"
        _limit_password_lengths(self)


class ChangePasswordForm(PasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_password_lengths(self)


class ResetPasswordForm(SetPasswordForm):
    """Set the password from a reset link through the service, which also revokes API tokens."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_password_lengths(self)

    def save(self, commit: bool = True) -> User:
        reset_password(user=self.user, password=self.cleaned_data["new_password1"])
        return self.user
