"""The only owner of mutable state: conversations, rule counters, rate-limit buckets, the journal,
stored responses. `memory.MemoryStore` keeps them in this process, bounded."""
