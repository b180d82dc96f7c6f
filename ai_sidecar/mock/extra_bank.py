"""Machine-coding questions for offline mock interviews (the shared bank has none).

Spoken machine-coding rounds are about how the candidate would build it: the design of the
code, the state, the edge cases and the tests, which is what the key points name.
"""

from __future__ import annotations

from ai_sidecar.llm.bank import BankEntry


def _e(id_: str, question: str, key_points: tuple[str, ...], outline: str) -> BankEntry:
    return BankEntry(id=id_, category="machine_coding", question=question, key_points=key_points, outline=outline)


MACHINE_CODING: tuple[BankEntry, ...] = (
    _e(
        "mc-todo-app",
        "Walk me through how you would build a to-do list app with add, complete, delete and filter.",
        (
            "Model the state as a list of items with id, text and done flag",
            "Derive the filtered view from state instead of storing it twice",
            "Separate the rendering components from the state updates",
            "Persist to local storage and handle empty input and duplicates",
            "Test adding, toggling, deleting and filtering",
        ),
        "State shape first, then pure update functions, then components, then persistence and tests.",
    ),
    _e(
        "mc-lru-cache-class",
        "Implement an LRU cache class with get and put in constant time. Explain your design.",
        (
            "Use a hash map from key to node for constant time lookup",
            "Keep a doubly linked list ordered by recent use",
            "Move a node to the front on every get and put",
            "Evict the least recently used node from the tail when full",
            "Test capacity one, updates of existing keys and eviction order",
        ),
        "Map plus doubly linked list with sentinel nodes; get moves to front; put inserts or updates and evicts the tail.",
    ),
    _e(
        "mc-rate-limiter",
        "Code a rate limiter that allows N requests per user per minute. How would you structure it?",
        (
            "Choose an algorithm: token bucket, fixed window or sliding window",
            "Keep per-user state keyed by user id",
            "Use a clock that can be injected so the code is testable",
            "Handle concurrency with locks or atomic operations",
            "Clean up state of idle users to bound memory",
        ),
        "Token bucket per user with an injectable clock; refill on access; atomic update; expiry of idle buckets; unit tests.",
    ),
    _e(
        "mc-parking-lot",
        "Design the classes for a parking lot system and explain how they interact.",
        (
            "Identify the entities: lot, level, spot, vehicle and ticket",
            "Model spot sizes and which vehicles fit which spots",
            "Assign a spot and issue a ticket when a vehicle enters",
            "Compute the fee and free the spot when it leaves",
            "Keep the design open for new vehicle types or pricing rules",
        ),
        "Entities and relationships, the enter and exit flows, the pricing strategy as an interface, and tests per flow.",
    ),
    _e(
        "mc-event-emitter",
        "Implement an event emitter with on, off, once and emit.",
        (
            "Store listeners in a map from event name to a list",
            "Make once a wrapper that removes itself after the first call",
            "Let off remove the right listener, including once wrappers",
            "Copy the listener list before emitting so removal during emit is safe",
            "Decide how errors thrown by a listener are handled",
        ),
        "Map of event to listeners; once as a self-removing wrapper; emit over a copy; error policy; tests for each method.",
    ),
    _e(
        "mc-autocomplete",
        "Build an autocomplete search box that queries an API as the user types. What would your code look like?",
        (
            "Debounce the input so not every keystroke calls the API",
            "Cancel or ignore stale responses that arrive out of order",
            "Cache results for queries already made",
            "Support keyboard navigation and accessibility of the list",
            "Handle loading, empty and error states",
        ),
        "Debounced input, request cancellation with a sequence check, cache, accessible listbox, the UI states, and tests.",
    ),
    _e(
        "mc-snake-game",
        "How would you implement the snake game? Describe the data structures and the game loop.",
        (
            "Represent the snake as a queue of cells and the board as a grid",
            "Run a fixed-interval game loop that moves the head and drops the tail",
            "Grow the snake by skipping the tail removal when it eats",
            "Detect collisions with walls and with itself using a set",
            "Keep the game logic separate from the rendering",
        ),
        "Deque of cells plus a set for collisions, a tick function that is pure, a renderer, input handling, tests of the tick.",
    ),
    _e(
        "mc-file-system",
        "Implement an in-memory file system with mkdir, ls, write and read.",
        (
            "Model directories and files as a tree of nodes",
            "Parse paths into parts and walk the tree",
            "Create missing parent directories when asked",
            "Return sorted listings and clear errors for missing paths",
            "Test nested paths, root and overwriting files",
        ),
        "Trie-like tree of nodes keyed by name; path parsing; each operation walks the tree; errors; tests.",
    ),
    _e(
        "mc-kv-store-ttl",
        "Write a key-value store with get, set and expiry times. How do you handle expired keys?",
        (
            "Store the value together with its expiry time",
            "Check expiry lazily on read",
            "Also remove expired keys in the background or with a heap by expiry",
            "Make the clock injectable for tests",
            "Think about thread safety and memory limits",
        ),
        "Dict of value and expiry, lazy expiry on get, a min-heap sweep, injectable clock, locking, tests.",
    ),
)
