"""Synthetic CLI data for the demo, the tests and the benchmarks.

Each module writes a realistic, seedable tree in one CLI's own layout and returns the ground truth
the generator itself knows (files, lines, bad lines, the records that must be counted), so a test
can check a parser against something that was never produced by a parser.

- `services.demo.corpus.claude`: Claude Code transcripts (``projects/<dir>/<session>.jsonl`` +
  subagents).
- `services.demo.corpus.codex`: Codex CLI rollouts (``sessions/YYYY/MM/DD/rollout-*.jsonl``,
  archived copies).
- `services.demo.corpus.gemini`: Gemini CLI chats (``tmp/<project>/chats/session-*.jsonl``,
  legacy ``.json``).
- `services.demo.corpus.mixed`: all three at once, by byte share (the benchmarks' mixed corpus).
- `services.demo.corpus.prompts`: the user prompts all three write, typed-looking and of the size
  of the prose slice drawn for them (so they change no size and no token).
"""
