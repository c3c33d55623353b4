"""GS1 Digital Link resolver: a GTIN on a package (``/01/<gtin>``) leads to its product and certificates.

:mod:`~catalogue.gs1.resolver` reads the address and builds the answers (an RFC 9264
linkset, the resolver's description); :mod:`~catalogue.gs1.views` is the blueprint.
The GTINs themselves belong to the registry (:mod:`catalogue.registry.gtins`).
"""
