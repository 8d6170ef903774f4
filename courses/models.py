"""Courses -> modules -> lessons. Each lesson plays one video of the same creator."""

from __future__ import annotations

from django.db import models


class Course(models.Model):
    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="courses"
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    is_published = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["creator", "slug"], name="course_creator_slug")
        ]

    def __str__(self) -> str:
        return self.title


class Module(models.Model):
    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["course", "position", "id"]

    def __str__(self) -> str:
        return self.title


class Lesson(models.Model):
    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    video = models.ForeignKey(
        "videos.Video", on_delete=models.SET_NULL, null=True, blank=True, related_name="lessons"
    )
    title = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["module", "position", "id"]

    def __str__(self) -> str:
        return self.title
