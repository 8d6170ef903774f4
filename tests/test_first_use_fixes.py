"""First-time-user fixes (issue 13): pages a newcomer met unstyled or misleading."""

from __future__ import annotations

from creators.models import CreatorMember
from tests.factories import UserFactory
from videos.models import Video


def test_password_reset_pages_use_the_site_card(client, db):
    page = client.get("/accounts/password/reset/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'class="card auth-card"' in text and "Send the reset link" in text
    done = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, follow=True)
    assert "Check your e-mail" in done.content.decode()


def test_team_member_removal_asks_first(owner_client, creator):
    member = UserFactory(display_name="Ann Editor")
    CreatorMember.objects.create(creator=creator, user=member, role="editor")
    text = owner_client.get(f"/studio/{creator.handle}/settings/").content.decode()
    assert 'data-confirm="Remove Ann Editor from the Acme Academy team?' in text
    assert "js/video-confirm.js" in text  # the script that asks


def test_library_keeps_polling_for_new_uploads(owner_client, creator):
    Video.objects.create(creator=creator, title="Done", status="completed")
    text = owner_client.get(f"/studio/{creator.handle}/videos/").content.decode()
    assert 'hx-trigger="every 30s, focus from:window"' in text


def test_processing_status_does_not_repeat_the_badge(owner_client, creator):
    video = Video.objects.create(creator=creator, title="Busy", status="transcribing")
    text = owner_client.get(f"/studio/{creator.handle}/videos/{video.pk}/").content.decode()
    assert text.count("Transcribing") == 1, "badge text repeated beside the badge"
