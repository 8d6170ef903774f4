"""Schedule the per-minute retry of pending Whop webhook events, on the whop queue."""

from django.db import migrations

NAME = "creators: retry pending Whop webhook events"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "creators.tasks.webhook_retry_due_task",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "cluster": "whop",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("creators", "0005_whop_app_invites")]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
