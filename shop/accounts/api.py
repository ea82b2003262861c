"""The accounts' REST API under /api/v1/auth/: registration, sign-in and out, passwords."""

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.accounts.exceptions import InvalidCredentials
from shop.accounts.models import User
from shop.accounts.services import (
    EMAIL_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    change_password,
    decoy_token,
    get_user_for_password_reset,
    register_user,
    reset_password,
    send_password_reset,
    sign_in,
    sign_out,
    sign_out_everywhere,
)
from shop.inputs import StrictTextMixin, TextField
from shop.ratelimits import (
    limit_password_checks,
    ratelimit,
    reset_link_account,
    signed_in_account,
    signing_in_account,
)

# --- Input --------------------------------------------------------------------------------


class EmailField(StrictTextMixin, serializers.EmailField):
    def __init__(self, **kwargs):
        super().__init__(max_length=EMAIL_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data) -> str:
        return User.objects.normalize_email(super().to_internal_value(data)).lower()


class PasswordField(TextField):
    def __init__(self, **kwargs):
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, **kwargs)


def check_password_strength(password: str, *, user: User, field: str | None = None) -> None:
    """Run Django's password validators; an object-level caller names the `field` to blame."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as error:
        messages = error.messages
        raise serializers.ValidationError({field: messages} if field else messages) from error


class CredentialsInput(serializers.Serializer):
    email = EmailField()
    password = PasswordField()


class RegisterInput(CredentialsInput):
    def validate(self, data: dict) -> dict:
        check_password_strength(data["password"], user=User(email=data["email"]), field="password")
        return data


class PasswordChangeInput(serializers.Serializer):
    old_password = PasswordField()
    new_password = PasswordField()

    def validate_old_password(self, value: str) -> str:
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError("Your old password was entered incorrectly.")
        return value

    def validate_new_password(self, value: str) -> str:
        check_password_strength(value, user=self.context["request"].user)
        return value


class PasswordResetInput(serializers.Serializer):
    email = EmailField()


class PasswordResetConfirmInput(serializers.Serializer):
    uid = TextField(max_length=64, help_text="`uidb64` from the link in the e-mail")
    token = TextField(max_length=64, help_text="`token` from the link in the e-mail")
    new_password = PasswordField()

    def validate(self, data: dict) -> dict:
        user = get_user_for_password_reset(uidb64=data["uid"], token=data["token"])
        check_password_strength(data["new_password"], user=user, field="new_password")
        return {"user": user, "password": data["new_password"]}


# --- Output -------------------------------------------------------------------------------


class AuthOutput(serializers.Serializer):
    token = serializers.CharField(
        source="key",
        help_text="Send as `Authorization: Token <key>`; shown only here, stored only hashed",
    )
    expiry = serializers.DateTimeField(help_text="When the token stops working")
    email = serializers.EmailField(source="user.email")


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    email = serializers.EmailField()
    full_name = serializers.CharField()


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


class ErrorOutput(DetailOutput):
    code = serializers.CharField()


# --- Views --------------------------------------------------------------------------------


class RegisterView(APIView):
    @method_decorator(ratelimit("registration"))
    @extend_schema(
        request=RegisterInput,
        responses={201: AuthOutput, 400: ErrorOutput},
        summary="Create an account and sign in",
        operation_id="auth_register",
    )
    def post(self, request: Request) -> Response:
        body = RegisterInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = register_user(**body.validated_data)
        if user is None:  # the address has an account: its owner is e-mailed instead
            token = decoy_token(email=body.validated_data["email"])
        else:
            token = sign_in(request=request, user=user)
        return Response(AuthOutput(token).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    @method_decorator(limit_password_checks(signing_in_account))
    @extend_schema(
        request=CredentialsInput,
        responses={200: AuthOutput, 400: ErrorOutput},
        summary="Sign in with e-mail and password",
        operation_id="auth_login",
    )
    def post(self, request: Request) -> Response:
        body = CredentialsInput(data=request.data)
        body.is_valid(raise_exception=True)
        user = authenticate(request, **body.validated_data)
        if user is None:
            raise InvalidCredentials
        return Response(AuthOutput(sign_in(request=request, user=user)).data)


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None, 401: ErrorOutput},
        summary="End the session and revoke the API token used (other devices stay signed in)",
        operation_id="auth_logout",
    )
    def post(self, request: Request) -> Response:
        sign_out(request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutEverywhereView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None, 401: ErrorOutput},
        summary="Sign out everywhere: end every session and revoke every API token of the user",
        operation_id="auth_logout_everywhere",
    )
    def post(self, request: Request) -> Response:
        sign_out_everywhere(request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: MeOutput, 401: ErrorOutput},
        summary="The signed-in user",
        operation_id="auth_me",
    )
    def get(self, request: Request) -> Response:
        return Response(MeOutput(request.user).data)


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticated]

    @method_decorator(limit_password_checks(signed_in_account))
    @extend_schema(
        request=PasswordChangeInput,
        responses={200: AuthOutput, 400: ErrorOutput, 401: ErrorOutput},
        summary="Change the password; other sessions and every token end, a new token is given",
        operation_id="auth_password_change",
    )
    def post(self, request: Request) -> Response:
        body = PasswordChangeInput(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        token = change_password(request=request, password=body.validated_data["new_password"])
        return Response(AuthOutput(token).data)


class PasswordResetView(APIView):
    @method_decorator(ratelimit("password_reset_ip", "password_reset_account"))
    @extend_schema(
        request=PasswordResetInput,
        responses={202: DetailOutput, 400: ErrorOutput},
        summary="E-mail a password reset link (the answer is the same for unknown addresses)",
        operation_id="auth_password_reset",
    )
    def post(self, request: Request) -> Response:
        body = PasswordResetInput(data=request.data)
        body.is_valid(raise_exception=True)
        send_password_reset(email=body.validated_data["email"])
        detail = (
            "If an account uses this address, we have e-mailed it a link to reset its password."
        )
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    @method_decorator(limit_password_checks(reset_link_account))
    @extend_schema(
        request=PasswordResetConfirmInput,
        responses={200: DetailOutput, 400: ErrorOutput},
        summary="Set a new password with the uid and token from a reset link",
        operation_id="auth_password_reset_confirm",
    )
    def post(self, request: Request) -> Response:
        body = PasswordResetConfirmInput(data=request.data)
        body.is_valid(raise_exception=True)
        reset_password(**body.validated_data)
        return Response({"detail": "Your password has been set. You can sign in with it now."})
