from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        # Register the tasks in every process, not only in workers: the outbox sends
        # deliver_event_task by name (orders/outbox.py).
        from orders import checks, tasks  # noqa: F401  (checks registers the currency check)
