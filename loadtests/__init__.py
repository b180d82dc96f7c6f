"""Benchmark and load clients: aiortc peers that speak recorded speech into the interview room."""
