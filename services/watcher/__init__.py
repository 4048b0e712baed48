"""The watcher process: file-system events on the CLIs' data roots become refresh requests."""
