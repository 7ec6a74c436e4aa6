"""Where the world is kept: the Store protocol and its memory, SQLite and Redis backends, the value
types of stored records, and the rate limits that live beside them."""
