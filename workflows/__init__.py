"""The applications on top of the pack: the demo, experiments, export, LLaMA-Board and the
``pii-factory`` command. Nothing below imports this package."""
