"""Create the django-q2 Schedule that aborts abandoned direct uploads every hour."""

from django.db import migrations

NAME = "videos: abort abandoned direct uploads"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "videos.tasks.abort_abandoned_uploads",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 60,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0006_direct_upload"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
