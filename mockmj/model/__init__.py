"""Pure values of the simulated API: tasks and their transitions, timing, outcomes, buttons and their
customIds, model versions, prompts, ids, the clock, dialect tables and typed refusals. No I/O, no threads,
no Flask: everything above may import from here, nothing here imports from above."""
