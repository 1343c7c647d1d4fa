"""Benchmark of the install against the rollout floor and a plain kubernetes.core baseline (`make bench`)."""
