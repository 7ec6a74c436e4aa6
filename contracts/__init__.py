"""mockmj contract suite: checks any Midjourney-proxy deployment, clause by clause, over HTTP.

Installed with mockmj (as `mockmj.contracts`): `mockmj contract --base-url URL [--api-key KEY]`. From a clone:
`pytest contracts` (the in-process mock) or `pytest contracts --mj-base-url URL --mj-api-key KEY`. See
docs/contract.md.
"""
