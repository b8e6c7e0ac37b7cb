"""A consumer's bills: every movement of the wallet's money as one named row (see statement)."""
