"""Mini-programs: services third parties build on Saoma's open API, opened inside the wallet.

A merchant registers one (names, icon, the origin it is served from, the profile scopes it may
ask for); an operator approves it; the wallet lists the approved ones and opens each in a
sandboxed frame that talks to the wallet only through the bridge (``saoma-bridge.js``). The
payer stays in control: a service never sees the PIN, learns profile data only through an
OAuth 2.0 authorization code the payer agreed to, and is paid only through the wallet's own
confirmation sheet.
"""
