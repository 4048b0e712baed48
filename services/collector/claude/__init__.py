"""Claude Code adapter: find transcripts, read them incrementally, turn usage lines into records.

``roots`` says where Claude Code keeps its transcripts, ``reader`` reads the bytes appended since
the last committed cursor, ``records`` turns one line into a ``UsageRecord`` (or a skip reason),
and ``dedup`` holds the duplicate rule the store applies. FORMATS.md section 2 is the reference.
"""
