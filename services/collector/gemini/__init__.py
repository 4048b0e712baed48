"""Gemini CLI adapter: find chat files, read them incrementally, turn token counts into records.

``roots`` says where Gemini CLI keeps its chats, ``reader`` reads what changed since the last
committed cursor (appended lines of a JSONL chat, or the whole of a legacy JSON chat),
``records`` turns one line or document into ``UsageRecord``s counted as ccusage 20.0.24 counts
them, ``dedup`` holds the keys and the "last copy wins" rule, and ``prompts`` turns a user
message into a prompt ("Recent activity"). FORMATS.md section 4 is the reference.

The live quota: ``live`` is the source the poller asks, composing ``signin`` (the Google sign-in,
its access token renewed in memory) and ``quota`` (Code Assist's quota requests and answers).
"""
