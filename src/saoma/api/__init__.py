"""The HTTP API under ``/v1``: thin routes over the services, problems in RFC 9457 form."""
