"""Recorded interviews for recruiters (issue 8): organisations, interviews, candidate links, review.

Registered by ``recruiting.area.setup(app)``. Recruiter routes live under /api/org (signed-in users,
scoped to their organisation); candidate routes under /api/c/ (public: the link's token, sent in the
X-Candidate-Token header, is the credential, see ``web.accounts.auth.PUBLIC_PREFIXES``).
"""
