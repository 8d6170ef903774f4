"""ASGI entry point: streamed chat answers do not hold a worker thread under ASGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
application = get_asgi_application()
