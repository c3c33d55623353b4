"""Open data: the whole registry as downloads (``dumps``), their manifest and DCAT description,
the change feed (``changes``) and Atom feeds (``feeds``)."""
