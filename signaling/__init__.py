"""Signaling: sessions' lifecycle (create, list, detail, end, delete), WebRTC offers placed on media nodes,
ICE/TURN configuration, the troubleshooting call, and the reaper that ends sessions whose node died.

Everything else of the web API is in ``web/`` by area; ``web.app.create_app`` assembles both.
"""
