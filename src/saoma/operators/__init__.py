"""The people who run an installation: operators, their roles, sign-in with a second factor."""
