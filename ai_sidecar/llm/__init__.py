"""The llm worker's parts: question detection, answers, translation and scores.

Providers: ``openai`` (any Chat Completions server) and ``offline`` (rules, a shipped question
bank and measured delivery facts; used when no model is configured).
"""
