"""Training utilities for ELECTRA: optimizer and learning-rate schedule."""
