"""Greetings, thanks and "who are you?": answered by the tutor itself, not from the videos.

A student's "hi" is not a question the videos failed to cover: it used to get "The videos
don't cover this.", spend one of the student's questions and land in the creator's
not-covered list. Only a whole message of small talk is recognised ("hi, why does the flame
point up?" is a question); the reply cites nothing, costs no allowance and is left out of
analytics (its answer's model is SMALL_TALK_MODEL).
"""

from __future__ import annotations

import re

SMALL_TALK_MODEL = "chronos-small-talk"
# The title of a chat opened with small talk, until its first question names it.
NEW_CHAT_TITLE = "New chat"

_END = r"[\s!.?,:)(]*$"
_KINDS = {
    "greeting": re.compile(
        r"^(?:hi+|hello|hey+|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day))"
        r"(?:[\s,]+(?:there|tutor|everyone|all|again))?" + _END,
        re.IGNORECASE,
    ),
    "thanks": re.compile(
        r"^(?:(?:ok(?:ay)?|great|cool|nice|perfect|awesome|got it|understood|i see)[\s,!.]*)?"
        r"(?:thanks|thank you|thx|ty|cheers|much appreciated|that helps|that helped"
        r"|ok(?:ay)?|great|cool|nice|perfect|awesome|got it|understood|i see)"
        r"(?:[\s,]+(?:a lot|so much|very much|you|again|tutor))*" + _END,
        re.IGNORECASE,
    ),
    "about": re.compile(
        # Not "how does this work?" / "what is this?": from a lesson, those ask about it.
        r"^(?:(?:who|what) are you|what can you do|how do you work|help"
        r"|are you (?:a bot|an ai|human|real))" + _END,
        re.IGNORECASE,
    ),
}

_REPLIES = {
    "greeting": "Hi! I'm the tutor for {name}. Ask me anything about the videos: I answer "
    "from what the lectures say and link every point to its moment in the video.",
    "thanks": "You're welcome! Ask another question whenever you like.",
    "about": "I'm the AI tutor for {name}. I answer from what the videos' lectures say and "
    "cite the exact moments: click a citation to play the video from there. If the videos "
    "don't cover something, I say so rather than guess.",
}


def small_talk_kind(text: str) -> str | None:
    """ "greeting", "thanks" or "about" when the whole message is that small talk, else
    None (a question, or small talk with a question in it)."""
    text = (text or "").strip()
    if len(text) > 60:
        return None
    return next((kind for kind, pattern in _KINDS.items() if pattern.match(text)), None)


def small_talk_reply(kind: str, *, creator_name: str) -> str:
    """The tutor's own reply to small talk of `kind` (see small_talk_kind)."""
    return _REPLIES[kind].format(name=creator_name)
