"""/api/schema/ for the API's plain Django views too.

drf-spectacular describes DRF views only. Two API routes are plain Django views on purpose
(POST /api/v1/chat is async and may answer with server-sent events; the session export
keeps the `format` query parameter that DRF reserves for content negotiation). Each names a
documentation twin with `described_by`: a DRF APIView that is never routed or called,
whose methods carry the @extend_schema of the real view. `SchemaGenerator` (settings
SPECTACULAR_SETTINGS["DEFAULT_GENERATOR_CLASS"]) lists the plain view at its URL and
describes it from the twin, so its operation is built by the same machinery (serializers
as components, tags, the error shape) as every other one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.generators import EndpointEnumerator
from drf_spectacular.generators import SchemaGenerator as SpectacularGenerator
from rest_framework.views import APIView


def described_by(twin: type[APIView]) -> Callable[[Any], Any]:
    """Decorator for a plain API view (outermost): /api/schema/ describes it with `twin`'s
    methods and their @extend_schema. The view itself is unchanged."""

    def attach(view: Any) -> Any:
        view.schema_twin = twin.as_view()
        return view

    return attach


def _twin(callback: Any) -> Any:
    return getattr(callback, "schema_twin", callback)


class _Endpoints(EndpointEnumerator):
    def should_include_endpoint(self, path, callback):
        return super().should_include_endpoint(path, _twin(callback))

    def get_allowed_methods(self, callback):
        return super().get_allowed_methods(_twin(callback))


class SchemaGenerator(SpectacularGenerator):
    """drf-spectacular's generator, with plain views described by their `described_by`
    twin."""

    endpoint_inspector_cls = _Endpoints

    def create_view(self, callback, method, request=None):
        return super().create_view(_twin(callback), method, request)
