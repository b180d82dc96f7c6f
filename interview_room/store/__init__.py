"""Repository functions: one module per domain, plain async functions over an asyncpg pool or connection."""
