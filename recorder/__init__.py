"""Session recordings: all audio tracks of a session mixed on the session clock, written as it arrives."""

from .session_recorder import SessionRecorder

__all__ = ["SessionRecorder"]
