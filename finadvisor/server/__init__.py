"""The HTTP server: ``create_app`` builds the FastAPI app; routers are thin and map service results to HTTP."""

from finadvisor.server.app import create_app

__all__ = ["create_app"]
