"""Tenants (Creator), people (User, team members, student memberships) and Whop deliveries."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone


class User(AbstractUser):
    """A person: creator, team member, student or admin. Whop users carry `whop_user_id`."""

    email = models.EmailField("email address", blank=True)
    whop_user_id = models.CharField(max_length=64, blank=True, db_index=True)
    display_name = models.CharField(max_length=150, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["whop_user_id"],
                condition=~Q(whop_user_id=""),
                name="user_whop_user_id_unique",
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.email or self.username


class Tier(models.TextChoices):
    """Chronos plans; their limits live in billing.limits."""

    FREE = "free", "Free"
    BASIC = "basic", "Basic"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


class CreatorQuerySet(models.QuerySet):
    def active(self) -> CreatorQuerySet:
        return self.filter(is_active=True)

    def managed_by(self, user) -> CreatorQuerySet:
        """Creators this user may manage: as owner or team member (staff: all)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        # A subquery rather than a join + distinct(), so the result can be combined (|).
        team = CreatorMember.objects.filter(user=user).values("creator_id")
        return self.filter(Q(owner=user) | Q(pk__in=team))


class Creator(models.Model):
    """The tenant: one Whop company (or a local creator). Everything it owns has creator_id."""

    whop_company_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    whop_user_id = models.CharField(max_length=64, blank=True)
    company_name = models.CharField(max_length=200)
    handle = models.SlugField(max_length=60, unique=True)
    owner = models.ForeignKey(
        "creators.User",
        on_delete=models.PROTECT,
        related_name="owned_creators",
        null=True,
        blank=True,
    )
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.FREE)
    settings = models.JSONField(default=dict, blank=True)
    # IANA time-zone name ("Europe/Paris"); per-day question allowances reset at this zone's
    # midnight and analytics buckets days in it. Validated by creators.timezones.
    timezone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)
    # Set when the Whop app is uninstalled (or an admin deactivates): the data is kept until
    # then, and the sweeper deletes it once this moment has passed. None: nothing scheduled.
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deletion_scheduled_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The timestamp of the newest app_installation event applied (older ones are ignored).
    installation_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CreatorQuerySet.as_manager()

    class Meta:
        ordering = ["company_name"]

    def __str__(self) -> str:
        return f"{self.company_name} ({self.handle})"

    @property
    def slug(self) -> str:
        """The storage prefix and URL key; the same as `handle`."""
        return self.handle


class CreatorMember(models.Model):
    """A team member who may manage a creator's library (the owner is one implicitly)."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        EDITOR = "editor", "Editor"

    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey("creators.User", on_delete=models.CASCADE, related_name="teams")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["creator", "user"], name="creator_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.creator.handle} ({self.role})"


class MembershipQuerySet(models.QuerySet):
    @staticmethod
    def granting() -> Q:
        """The condition of a membership granting access now: a status of
        Membership.GRANTING (active, trialing, completed, canceling) and not past
        valid_until (when one is set: a canceling membership's period end)."""
        return Q(status__in=Membership.GRANTING) & (
            Q(valid_until__isnull=True) | Q(valid_until__gt=timezone.now())
        )

    def active(self) -> MembershipQuerySet:
        """The memberships granting access now (granting())."""
        return self.filter(self.granting())

    def with_access(self) -> MembershipQuerySet:
        """Each membership annotated with `has_access` (bool, granting())."""
        return self.annotate(
            has_access=models.ExpressionWrapper(self.granting(), output_field=models.BooleanField())
        )


class Membership(models.Model):
    """A student's access to one creator: mirrored from a Whop membership (source "whop"),
    or granted by the creator's invite / join link (source "invite")."""

    class Status(models.TextChoices):
        # Whop's membership statuses (whop_sdk MembershipStatus) plus our "inactive".
        ACTIVE = "active", "Active"
        TRIALING = "trialing", "Trialing"
        COMPLETED = "completed", "Completed (paid in full)"
        CANCELING = "canceling", "Canceling at period end"
        PAST_DUE = "past_due", "Past due"
        CANCELED = "canceled", "Canceled"
        EXPIRED = "expired", "Expired"
        INACTIVE = "inactive", "Inactive"

    class Source(models.TextChoices):
        WHOP = "whop", "Whop"
        INVITE = "invite", "Invite"

    # Statuses that open the creator's content (a canceling one until valid_until).
    GRANTING = (Status.ACTIVE, Status.TRIALING, Status.COMPLETED, Status.CANCELING)

    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("creators.User", on_delete=models.CASCADE, related_name="memberships")
    whop_membership_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.WHOP)
    plan_id = models.CharField(max_length=64, blank=True)
    product_id = models.CharField(max_length=64, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    # The timestamp of the newest Whop event applied; older deliveries are ignored.
    source_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["creator", "user"], name="membership_creator_user")
        ]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"{self.user} -> {self.creator.handle} ({self.status})"


class WebhookEvent(models.Model):
    """One Whop webhook delivery, stored before it is processed (at-least-once, any order)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        # Concerns a company that has not installed Chronos (yet): retried with backoff
        # until its install arrives or 72 hours pass (then "failed", replayable).
        PENDING = "pending", "Pending (company not installed yet)"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (unknown type)"
        FAILED = "failed", "Failed"

    webhook_id = models.CharField(max_length=128, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    # From the envelope: when Whop says the event happened, and which company it concerns.
    event_timestamp = models.DateTimeField(null=True, blank=True)
    company_id = models.CharField(max_length=64, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    received = models.DateTimeField(default=timezone.now, db_index=True)
    processed = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    error = models.TextField(blank=True)
    # When a pending event is tried next (None: not scheduled).
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-received"]

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id}"


class InviteQuerySet(models.QuerySet):
    def usable(self) -> InviteQuerySet:
        """Not revoked, not expired, uses left."""
        now = timezone.now()
        return (
            self.filter(revoked_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .filter(Q(max_uses__isnull=True) | Q(uses__lt=models.F("max_uses")))
        )


class Invite(models.Model):
    """A way into a creator's learning area without Whop: a shareable join link
    (/join/<token>/) or an e-mailed invite (same link, `email` set, one use). Redeeming it
    grants a Membership of source "invite"."""

    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="invites")
    token = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True)
    note = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "creators.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InviteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invite to {self.creator.handle} ({self.email or 'link'})"
