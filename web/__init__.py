"""The web API by area (accounts, sessions, reports, billing, recruiting, and the shared ``common``), assembled
with ``signaling`` (offers, placement, session lifecycle) by ``web.app.create_app``.

Each area package has an ``area.py`` with one ``setup(app)``: it registers its routes (each route module has its own ``setup(app)``)
and starts its background work through ``interview_room.service.in_background`` (aiohttp ``cleanup_ctx``).
"""
