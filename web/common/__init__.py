"""What every area shares: the services on the app (context), errors and their JSON, request validation,
serialisers, the HTTP guard, the e-mail sender, token hashing, pruning, and the static files (web client, docs)."""
