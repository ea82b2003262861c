"""Create the demo operator account if it is missing, and print its login (development only)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the demo operator (staff, superuser) if missing and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@shop.local")
        parser.add_argument("--password", default="shop-admin-demo")

    def handle(self, *args, email: str, password: str, **options):
        if settings.PRODUCTION:
            raise CommandError("Refusing to create a demo operator in production mode.")
        user_model = get_user_model()
        if not user_model.objects.filter(email=email).exists():
            user_model.objects.create_superuser(email=email, password=password)
            self.stdout.write(f"Created the operator account {email}.")
        self.stdout.write(f"Admin login: {email} / {password}")
