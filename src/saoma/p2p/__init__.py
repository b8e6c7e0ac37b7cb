"""Money between people: personal codes, transfers to friends, red packets."""
