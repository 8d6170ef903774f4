"""One unique-slug helper for creator handles, usernames and course slugs."""

from courses.models import Course
from courses.services import course_create
from creators.models import Creator, User
from creators.services.people import user_get_or_create_for_whop
from creators.services.tenants import creator_handle_for
from creators.slugs import unique_slug
from tests.factories import CreatorFactory


def test_handles_usernames_and_course_slugs_get_the_next_free_suffix(db):
    CreatorFactory(handle="acme-academy")
    CreatorFactory(handle="acme-academy-2")
    assert creator_handle_for(name="Acme Academy!") == "acme-academy-3"
    assert creator_handle_for(name="¡¿") == "creator"  # nothing left of the name

    first = user_get_or_create_for_whop(whop_user_id="user_1", username="Ada Lovelace")
    second = user_get_or_create_for_whop(whop_user_id="user_2", username="ada lovelace")
    assert (first.username, second.username) == ("ada-lovelace", "ada-lovelace-2")

    creator, other = CreatorFactory(), CreatorFactory()
    slugs = [course_create(creator=creator, title="Candles").slug for _ in range(3)]
    assert slugs == ["candles", "candles-2", "candles-3"]
    # Slugs are unique per creator: another creator's "candles" is free.
    assert course_create(creator=other, title="Candles").slug == "candles"
    assert Course.objects.filter(slug="candles").count() == 2


def test_cut_to_length_without_a_trailing_dash(db):
    assert (
        unique_slug(
            "ab cd", queryset=Creator.objects.all(), field="handle", max_length=3, fallback="x"
        )
        == "ab"
    )
    assert User.objects.count() == 0
