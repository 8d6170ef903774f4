"""Signals other apps may listen to (videos imports none of them).

library_changed(sender, creator_id: int): a creator's searchable library changed: a video
reached "completed" or was deleted. Sent after the change is written (receivers that do
work should defer it with transaction.on_commit).
"""

from django.dispatch import Signal

library_changed = Signal()
