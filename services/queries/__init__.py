"""The questions both the api and the ``otm`` command answer: reports, costs, limits, status,
doctor, and bringing the database up to date in-process for one-shot commands.

Answers are plain dicts (the JSON shapes); drawing them for people is the CLI's business.
"""
