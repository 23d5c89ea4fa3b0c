"""The store Protocols every backend implements (the JSON files today, PostgreSQL later).

One section per kind of state. Each backend passes the same contract suite
(tests/store/test_contract.py and its siblings). Imports neither Flask nor an SDK, and no backend.
"""

from __future__ import annotations

# --- conversations and their message tree ---------------------------------------------------

# --- accounts, sessions and shares ----------------------------------------------------------

# --- limits: turn rate, concurrency slots, budget reservations ------------------------------
