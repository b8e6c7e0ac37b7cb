"""Demo mini-programs: services a third party would build on Saoma's public merchant API and
the wallet's bridge, served from their own origin. ``saoma demo`` starts the shared bike and
ordering at the table."""
