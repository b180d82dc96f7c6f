"""WebVTT from final captions; cue times are the recording's clock, so they line up in playback."""

from __future__ import annotations

from interview_room.store.sessions import CaptionRow


def timestamp(t: float) -> str:
    ms = round(max(t, 0.0) * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _escape(text: str) -> str:
    text = " ".join(text.split())  # a blank line would end the cue
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(captions: list[CaptionRow], translated: dict[str, str] | None = None) -> str:
    """One cue per caption, the speaker as a voice span (``<v Interviewer>``)."""
    out = ["WEBVTT", ""]
    for n, c in enumerate(captions, 1):
        t1 = c.t1 if c.t1 > c.t0 else c.t0 + 0.5
        text = (translated or {}).get(c.id, c.text)
        speaker = _escape(c.role.capitalize())
        out += [str(n), f"{timestamp(c.t0)} --> {timestamp(t1)}", f"<v {speaker}>{_escape(text)}", ""]
    return "\n".join(out) + "\n"
