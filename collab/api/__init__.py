"""The read-only JSON API: the same objects and permissions as the pages.

``collab.api.routes.routes()`` builds the URL map; ``collab.api.schema.OPENAPI``
documents it (served at ``/api/v1/openapi.json``, rendered at ``/api/docs``).
See ``docs/api.md``. Nothing is re-exported here, so ``collab.api.routes``
stays the module.
"""
