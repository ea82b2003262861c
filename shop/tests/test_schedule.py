"""`manage.py run_schedule`: the beat schedule under `make run`, where no beat runs (issue 11)."""

import io

import pytest
from celery import shared_task
from celery.signals import task_prerun
from django.core.management import call_command

pytestmark = pytest.mark.django_db

FAILING = "shop.tests.test_schedule.fail_task"


@shared_task
def fail_task() -> None:
    raise RuntimeError("the payment network is down")


def _tasks_run_by_one_pass() -> list[str]:
    ran = []

    def record(sender, **kwargs) -> None:
        ran.append(sender.name)

    task_prerun.connect(record, weak=False)
    try:
        call_command("run_schedule", "--once", stdout=io.StringIO())
    finally:
        task_prerun.disconnect(record)
    return ran


def test_one_pass_runs_every_task_of_the_beat_schedule(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert _tasks_run_by_one_pass() == [entry["task"] for entry in schedule.values()]


def test_a_failing_task_is_logged_and_the_tasks_after_it_still_run(settings, caplog):
    scheduled = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    settings.CELERY_BEAT_SCHEDULE = {
        "fail": {"task": FAILING, "schedule": 60},
        **settings.CELERY_BEAT_SCHEDULE,
    }
    assert _tasks_run_by_one_pass() == [FAILING, *scheduled]
    assert f"scheduled task fail ({FAILING}) failed" in caplog.text


def test_with_a_broker_the_schedule_is_left_to_celery_beat(settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    assert _tasks_run_by_one_pass() == []
