# Load the Celery app whenever Django starts, so that @shared_task binds to it and
# transaction.on_commit(task.delay) from a web request reaches our broker.
from webcare.celery import app as celery_app

__all__ = ("celery_app",)
