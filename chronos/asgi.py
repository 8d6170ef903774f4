"""ASGI entry point (Procfile `web`): streamed chat answers do not hold a worker thread.

The web server pools its database connections by default (DB_POOL, chronos/settings.py):
under ASGI every request in flight runs its sync code in its own thread with its own
connection, so without a bound 100 concurrent requests exhausted PostgreSQL's
max_connections ("too many clients", 500s; bench/watch.py). Workers and commands do not
pool (django-q2 forks its workers; a forked pool would share sockets).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
os.environ.setdefault("DB_POOL", "1")
application = get_asgi_application()
