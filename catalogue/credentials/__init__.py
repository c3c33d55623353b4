"""Certificates others can check without the registry: signed W3C credentials, their keys,
the revocation lists (Bitstring Status List) and the offline check (issue 18).

``keys`` (the Ed25519 key file), ``status_list`` (each credential's index and the lists' bits),
``issuing`` (the credentials, signed), ``checking`` (what a verifier does offline) and ``cli``
(``flask credential``). The endpoints, ``/.well-known/jwks.json`` included, are
:mod:`catalogue.api.credential_views`, in the API's one contract.
"""
