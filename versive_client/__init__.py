"""versive-client: the async Python SDK for the Versive API (AI-moderated user interviews).

Models generated from the API's OpenAPI document live in `versive_client.models`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
