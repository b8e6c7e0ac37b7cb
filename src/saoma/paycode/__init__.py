"""One-time payment codes a consumer shows at a cashier: 18 digits, made offline on the device."""
