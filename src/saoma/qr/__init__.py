"""QR codes any standard scanner reads: EMVCo Merchant-Presented Mode payloads and their images."""

from saoma.qr.emv import EmvError, Field, Payload, crc16, decode, encode

__all__ = ["EmvError", "Field", "Payload", "crc16", "decode", "encode"]
