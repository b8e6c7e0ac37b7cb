"""The audit trail: every operator action and every operator read of a person's data, in an
append-only, hash-chained log that the person can see."""
