"""The detector: one object built from a recipe (or rules alone) that finds PII in texts with the
pack's decoding, operating point and rules, and redacts what it found. ``eval.predict``,
``eval.calibrate``, ``pii-factory scan`` and ``pii-factory serve`` all run it (docs/detector.md)."""
