"""The notifier process: alert rules over committed events, and delivery of committed alerts
to the desktop, apprise URLs and a command of the user's."""
