"""The HTTP face of the mock: Flask, bound to the OpenAPI document by operationId."""
