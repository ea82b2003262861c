from celery import shared_task

from catalog.cache import bump_catalog_version


@shared_task
def bump_catalog_version_task() -> None:
    bump_catalog_version()
