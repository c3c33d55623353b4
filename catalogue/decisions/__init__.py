"""Revocation by decision: many certificates revoked (or reinstated) at once under one decision."""
