"""Forms of the creator's video pages. They only shape input; videos.services decides
what is acceptable (media type by content, size, captions) and raises
chronos.errors.DomainError; error_field puts its messages on a form."""

from __future__ import annotations

from django import forms

from chronos.errors import DomainError

# What the file pickers offer. The server decides by content (PyAV probe), not by these.
MEDIA_ACCEPT = "video/*,audio/*,.mp4,.mov,.avi,.webm,.mkv,.m4v,.mp3,.m4a,.wav,.flac,.ogg,.oga,.opus"
CAPTIONS_ACCEPT = ".vtt,.srt,text/vtt,application/x-subrip"


class VideoUploadForm(forms.Form):
    """One lecture file, an optional caption file and its title/description."""

    file = forms.FileField(
        label="Video or audio file",
        widget=forms.ClearableFileInput(attrs={"accept": MEDIA_ACCEPT}),
        help_text="mp4, mov, avi, webm, mkv, m4v, or audio: mp3, m4a, wav, flac, ogg.",
    )
    captions = forms.FileField(
        label="Captions (optional)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": CAPTIONS_ACCEPT}),
        help_text="A .vtt or .srt file: the transcript is taken from it, exactly timed.",
    )
    title = forms.CharField(
        max_length=255,
        required=False,
        help_text="Leave empty to use the file name.",
    )
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000
    )


class VideoEditForm(forms.Form):
    """A video's title and description (the inline edit form on the video page)."""

    title = forms.CharField(max_length=255)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000
    )


def error_field(exc: DomainError, default: str | None) -> dict[str | None, list[str]]:
    """A service DomainError as {field: [messages]} for a form: its fields, or its message
    under `default` (None = a non-field error)."""
    if exc.fields:
        return dict(exc.fields)
    return {default: [exc.message]}
