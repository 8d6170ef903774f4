"""The usage ledger: one row per paid provider call, in units and USD."""

from __future__ import annotations

from decimal import Decimal

from django.db import models


class UsageLedgerEntry(models.Model):
    """One paid call. `units` are in `unit` (seconds of audio, tokens); `usd` is Decimal USD.

    `subject` names what the call was for ("video:12", "chat_message:40") so billing need
    not import the apps above it.
    """

    class Operation(models.TextChoices):
        TRANSCRIPTION = "transcription", "Transcription"
        EMBEDDING = "embedding", "Embedding"
        CHAT = "chat", "Chat answer"
        TITLE = "title", "Session title"

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="usage_entries"
    )
    operation = models.CharField(max_length=20, choices=Operation.choices)
    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=80)
    units = models.DecimalField(max_digits=16, decimal_places=3)
    unit = models.CharField(max_length=20)  # "seconds", "tokens", "input_tokens"...
    usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    subject = models.CharField(max_length=80, blank=True, db_index=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "usage ledger entries"
        indexes = [models.Index(fields=["creator", "created_at"])]

    def __str__(self) -> str:
        return f"{self.operation} {self.model} {self.units} {self.unit} ${self.usd}"
