"""The public JSON API under ``/api/v1`` (DESIGN §4), its generated OpenAPI document and its page.

One package, so the contract is kept in one place: ``answers`` (response models),
``queries`` (query parameters), ``spec`` (the OpenAPI document generated from them and the routes),
``errors`` (the one error shape), ``export`` (the CSV) and ``views`` (the blueprint).
"""
