"""factory-boy factories for the tenant-level rows. Media-derived rows are made by running
the real pipeline on tests/data, not by factories."""

import factory

from creators.models import Creator, Membership, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-Chronos-123")


class CreatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Creator

    company_name = factory.Sequence(lambda n: f"Creator {n}")
    handle = factory.Sequence(lambda n: f"creator-{n}")
    owner = factory.SubFactory(UserFactory)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    creator = factory.SubFactory(CreatorFactory)
    user = factory.SubFactory(UserFactory)
    status = Membership.Status.ACTIVE
