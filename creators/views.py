"""Entry pages: home routes each person to the area that fits their role."""

from __future__ import annotations

from django.shortcuts import redirect, render

from creators.selectors import creators_learnable_by, creators_managed_by


def home(request):
    """Signed out: the landing page. Signed in: the one area they have, or a chooser."""
    if not request.user.is_authenticated:
        return render(request, "creators/landing.html")
    managed = list(creators_managed_by(user=request.user).filter(is_active=True)[:50])
    learnable = [c for c in creators_learnable_by(user=request.user)[:50] if c not in managed]
    if len(managed) == 1 and not learnable:
        return redirect("videos:library", handle=managed[0].handle)
    return render(request, "creators/home.html", {"managed": managed, "learnable": learnable})
