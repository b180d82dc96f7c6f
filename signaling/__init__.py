"""The HTTP API (PROTOCOL.md: auth, sessions, history, playback), static web client, offer forwarding."""
