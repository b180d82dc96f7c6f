"""A session's products once it exists: recordings (playback, merged parts), captions as WebVTT, the summary,
and the screen question. Creating, placing and ending sessions is ``signaling``'s."""
