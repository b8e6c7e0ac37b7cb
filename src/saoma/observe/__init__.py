"""Seeing Saoma run: its metrics (:mod:`saoma.observe.metrics`) and its request log lines
(:mod:`saoma.observe.logs`). A leaf: it imports no other Saoma package, so any may record here."""
