"""Merchant onboarding (KYC): business details, the owner's encrypted ID number, the decision."""
