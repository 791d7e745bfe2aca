"""The alliance exchange: node identity, signed transparent feeds of shared banks, peer sync with
the vouching rule, referrals between members, and the NCMEC hash-sharing connector.

The wire protocol is specified in docs/exchange.md.
"""
