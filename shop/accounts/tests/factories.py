"""Factories for the accounts' models: users and their outgoing mail."""

import factory

from shop.accounts.models import OutgoingMail, User

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    """A shopper who signs in with PASSWORD; `is_staff=True` makes an operator."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> User:
        # Through the manager, as registration does: the address lower-cased, the password hashed.
        return model_class.objects.create_user(*args, **kwargs)


class OutgoingMailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutgoingMail

    kind = OutgoingMail.Kind.PASSWORD_RESET
    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
