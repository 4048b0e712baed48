"""Reports read from the store's projections (never from raw logs), shared by the CLI and API.

``otm report daily|weekly|monthly|session|project|blocks`` and ``GET /v1/usage/<kind>`` build
the same dict (``build.build_report``); ``--json`` prints it, ``--csv`` flattens it
(``csvout``), and the tables are drawn from it (``render``).

One JSON schema for every provider, with ccusage's Claude field names
---------------------------------------------------------------------

Rows: ``daily`` (``date``), ``weekly`` (``week``: its first day), ``monthly`` (``month``),
``sessions`` (``sessionId``, ``projectPath``, ``firstActivity``, ``lastActivity``: local dates),
``projects`` (``project``, ``firstActivity``, ``lastActivity``), then::

    inputTokens, outputTokens, cacheCreationTokens, cacheReadTokens, [reasoningTokens],
    totalTokens, totalCost, modelsUsed, modelBreakdowns[], [providers]

plus ``totals`` (the same token fields and ``totalCost``) and ``unpriced`` (only when a model
has no price: ``[{"model", "tokens"}]``, its tokens counted but its dollars not) and ``pricedAs``
(only when a model no price list knows by its own name was priced as the known model inside it:
``{"aide-gpt-5": "gpt-5"}``; ccusage prices it the same without a key for it). ``blocks`` is
ccusage's blocks shape (no totals). The fields mean, per provider:

================== ======================= ============================ ========================
field              Claude                  Codex                        Gemini
================== ======================= ============================ ========================
inputTokens        input                   input minus cached input     input minus cached, plus
                                                                        tool-use prompt tokens
outputTokens       output                  output (reasoning inside)    output (thoughts not
                                                                        inside, as ccusage)
cacheCreation…     5-minute + 1-hour write 0                            0
cacheReadTokens    cache reads             cached input                 cached
reasoningTokens    (key absent)            reasoning (part of output)   thoughts
totalTokens        the four fields         the logs' ``total_tokens``   the logs' ``total``
totalCost          Anthropic's billing     input, cached, output rates  output rate on output +
                                                                        thoughts; cached rate
================== ======================= ============================ ========================

Long prompts (over the provider's threshold) are billed at the model's long-context rates on the
whole request, when the model has them. Costs are summed exactly in pico-dollars.

* ``reasoningTokens`` is an extra key, in rows, totals and model breakdowns, for every
  ``--provider`` except ``claude`` (Claude reports none, and ``--provider claude`` stays
  key-for-key the JSON of ``ccusage claude <kind> --json``).
* ``--provider all`` (the default) adds ``providers`` (the CLIs in the row, always in the order
  claude, codex, gemini) to each row, and ``provider`` to each model breakdown, each block and
  each unpriced entry. Blocks are built per provider (each has its own limits).
* ``modelsUsed`` is in order of first use; ``modelBreakdowns`` by cost, descending; fast-mode
  requests are listed as ``<model>-fast``.
* Sessions and projects are sorted by cost, most expensive first (``--order asc`` reverses);
  periods and blocks by time, oldest first. ``--since``/``--until`` apply to local dates: the
  day (weeks and months are built from the selected days), a session's records (a session
  keeps only its records in range, as ccusage 20.0.24 does; a project sums its sessions so
  cut), a block's start.
* Blocks follow ccusage (FORMATS.md §2.7) for every provider; ``usageLimitResetTime`` is never
  given (nothing in the projections records Claude's "limit reached" lines). The active Codex
  block may carry ``officialWindow``: Codex's own 5-hour window from its logs (start, end,
  used percent, and the records inside it), while it has not reset.
"""
