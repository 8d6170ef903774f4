"""Video.resumed_at (a run handed to a new attempt), readable_seconds and use_readable_part
(cut-off files), and the stuck-video sweeper every minute
(videos.pipeline.SWEEP_EVERY_MINUTES): a dead worker's stage is re-queued within 3 minutes."""

from django.db import migrations, models

NAME = "videos: sweep stuck videos"  # the Schedule made by 0003


def sweep_every_minute(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=NAME).update(minutes=1)


def sweep_every_five_minutes(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=NAME).update(minutes=5)


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0008_direct_upload_verifying"),
    ]

    operations = [
        migrations.AddField(
            model_name="video",
            name="resumed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="video",
            name="readable_seconds",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="video",
            name="use_readable_part",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(sweep_every_minute, sweep_every_five_minutes),
    ]
