"""The generation domain: reads, start, finish, run (the durable job), outputs, webhooks.

One calling convention: a function takes what it runs on first. `rt` (the runtime) when it
opens its own transactions or talks to a provider or storage; `conn` when it is one step of a
transaction its caller owns (the reads, in the operation's caller session; `finish`, inside a
job's transaction). Nothing here takes a bare pool.
"""
