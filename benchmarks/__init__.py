"""Benchmark scripts (not tests): they print numbers, on CPU here and on GPU machines."""
