"""Search: one index of everything people write, queried in Italian within
what each person may read (docs/search.md, docs/architecture.md "Search").

Domain code, no Starlette, except :mod:`collab.search.pages` (the page).
The package itself imports nothing: :mod:`collab.db` reaches
:mod:`collab.search.tracking` on every import of the app, and that module
must not load the features' models (tests/test_layering.py).
"""
