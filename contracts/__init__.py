"""mockmj contract suite: checks any Midjourney-proxy deployment, clause by clause, over HTTP.

Run `pytest contracts` (the in-process mock) or `pytest contracts --mj-base-url URL --mj-api-key KEY`
(anything else). See contracts/README.md.
"""
