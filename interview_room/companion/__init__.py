"""``interview-room listen``: the computer's audio (what the meeting app plays) as a second peer of a
room's session, so the interviewer on Zoom, Teams or Meet is captioned without sharing a browser tab.

Modules: ``sources`` (where the audio comes from: a PulseAudio/PipeWire monitor through ``parec``, the
optional ``soundcard`` package on Windows/macOS, a file for tests), ``track`` (an aiortc track of those
frames), ``listen`` (pairing, the WebRTC peer, the command line).
"""
