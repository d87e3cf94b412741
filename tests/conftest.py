"""pytest-only wiring: every SOAP response the in-memory client receives is schema-validated."""

from tests import schema, soapclient

soapclient.RESPONSE_CHECKS.append(schema.validate_envelope)
