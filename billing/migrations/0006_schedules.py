"""Create the django-q2 Schedules of billing: due downgrades and the 80% e-mail sweep,
every 15 minutes."""

from django.db import migrations

SCHEDULES = {
    "billing: apply due downgrades": "billing.tasks.tier_changes_apply_due_task",
    "billing: usage alerts sweep": "billing.tasks.usage_alerts_sweep_task",
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": 15, "repeats": -1},
        )


def delete_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_plans_enforcement"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
