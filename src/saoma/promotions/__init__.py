"""Promotions at the moment of the scan: campaigns, coupons and budgets that are never overspent."""
