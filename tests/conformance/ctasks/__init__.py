"""Task functions for the conformance suite's Call stages (registry root `ctasks`)."""
