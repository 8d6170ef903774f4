"""Schedule the hourly sweeper that deletes creators whose post-uninstall grace period ended."""

from django.db import migrations

NAME = "creators: purge uninstalled creators"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "creators.tasks.creators_purge_due_task",
            "schedule_type": "H",  # hourly
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("creators", "0002_creator_deactivated_at_creator_deletion_scheduled_at_and_more"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
