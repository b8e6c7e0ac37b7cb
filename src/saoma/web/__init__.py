"""The browser side of Saoma: wallet, cashier, dashboard and demo pages over the JSON API."""
