"""Codex CLI adapter: find session logs, read them incrementally, turn token counts into records.

Codex writes one rollout file per session (``sessions/YYYY/MM/DD/rollout-…-<uuid>.jsonl``, moved
to ``archived_sessions/`` when archived). Its ``token_count`` events carry *running* totals and
the last call's usage, so a record can only be computed with the state of the file before it:
the previous totals, the current model, whether the file is a fork replaying its parent. That
state rides in ``FileCursor.state`` so an incremental read continues exactly where it stopped.

``roots`` says where the logs are, ``records`` holds the line-level rules (token counts, models,
timestamps, keys), ``limits`` turns ``rate_limits`` into limit windows, ``turns`` is the
per-file state machine (deltas, model carry-over, fork replays), ``reader`` reads the bytes after
a cursor and ``adapter`` is what the collector calls. FORMATS.md section 3 is the reference;
ccusage 20.0.24 is the tool whose counts we reproduce.
"""
