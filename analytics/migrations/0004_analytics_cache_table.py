"""The table of the shared "analytics" cache (settings.CACHES, Django's DatabaseCache)."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # createcachetable makes the tables of every DatabaseCache in CACHES; it skips existing ones.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0003_video_buckets")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
