"""A/B runs and sweeps of LLaMA-Factory recipes on Ray Tune (orchestration layer).

``python -m workflows.experiments run EXPERIMENT.yaml`` runs every trial as the stock
``llamafactory-cli train`` in its own process and folder, stops hopeless ones early at their
evaluations (ASHA or the median rule), resumes after an interruption and writes a report with a
paired-bootstrap A/B comparison on the test split. Modules: ``spec`` (the experiment file),
``trial`` (one training process), ``trainer_log`` (its log), ``runner`` (Tune), ``progress``
(the terminal lines), ``report``.
"""
