"""The Celery app. With no CELERY_BROKER_URL, settings make tasks run inline."""

import os

from celery import Celery, signals

from shop import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A task runs under the id of the request that published it (shop/observability.py).
signals.before_task_publish.connect(observability.send_request_id)
signals.task_prerun.connect(observability.adopt_request_id)
signals.task_postrun.connect(observability.forget_request_id)


@signals.setup_logging.connect
def keep_django_logging(**kwargs) -> None:
    """Leave the worker's logging to settings.LOGGING, so its lines are formatted as the web's."""
