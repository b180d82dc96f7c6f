"""Accounts: registration, sign-in (password or e-mailed code), sessions' cookie/bearer tokens, the profile,
résumé extraction, and the rate limits on all of it."""
