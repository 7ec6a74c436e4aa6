"""The simulation: the Engine facade over its parts (keys and accounts, rules, journal, findings, the
replica of the store), the submissions of every kind and the callbacks. Speaks Python, not HTTP."""
