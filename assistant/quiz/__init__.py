"""Quizzes for trainers: items built and checked from the codebook (builder), written in the
formats learning platforms import (export)."""
