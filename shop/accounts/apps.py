from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "shop.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Register the tasks in every process, not only in workers: the outbox sends
        # send_mail_task by name (shop/accounts/outbox.py).
        from shop.accounts import tasks  # noqa: F401
