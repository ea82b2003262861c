"""Run the Celery beat schedule in this process: `make run` has no broker, so no beat (issue 11).

Without it, nothing would cancel an unpaid order past its reservation, redeliver the outbox or
sweep idle carts under `make run`. Each task runs here as a worker would run it (Task.apply),
at the interval CELERY_BEAT_SCHEDULE gives it, first when the command starts.
"""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run each task of CELERY_BEAT_SCHEDULE at its interval, in this process (make run)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every task once, then stop.")

    def handle(self, *args, once: bool, **options):
        if settings.CELERY_BROKER_URL:
            self.stdout.write(
                "CELERY_BROKER_URL is set: `celery -A config beat` runs the schedule."
            )
            return
        schedule = settings.CELERY_BEAT_SCHEDULE
        due = dict.fromkeys(schedule, time.monotonic())
        while True:
            for name, entry in schedule.items():
                if time.monotonic() >= due[name]:
                    run_scheduled_task(name=name, path=entry["task"])
                    due[name] = time.monotonic() + entry["schedule"]
            if once:
                return
            time.sleep(max(0.0, min(due.values()) - time.monotonic()))


def run_scheduled_task(*, name: str, path: str) -> None:
    """Run one scheduled task to its end; a failure is logged and the schedule goes on."""
    try:
        import_string(path).apply(throw=True)
    except Exception:
        log.exception("scheduled task %s (%s) failed", name, path)
    finally:
        close_old_connections()
