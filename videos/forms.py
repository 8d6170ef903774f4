"""Forms of the creator's video pages. They only shape input; videos.services decides
what is acceptable (media type by content, size, captions) and raises ValidationError."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

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


# Which form field a service ValidationError code belongs to (codes: videos.services).
ERROR_FIELDS = {"bad_captions": "captions", "title": "title"}


def error_field(exc: ValidationError, default: str | None) -> dict[str | None, list[str]]:
    """A service ValidationError as {field: [messages]}: dict errors keep their keys,
    single errors go to the field their code names (ERROR_FIELDS) or to `default`."""
    if hasattr(exc, "error_dict"):
        return dict(exc.message_dict)
    grouped: dict[str | None, list[str]] = {}
    for error in exc.error_list:
        field = ERROR_FIELDS.get(error.code or "", default)
        grouped.setdefault(field, []).extend(error.messages)
    return grouped
