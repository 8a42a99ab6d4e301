"""Entity precision/recall/F1/F2 from greedy generation at every evaluation."""

from plugins.entity_metrics.evaluator import EntityEvaluator

__all__ = ["EntityEvaluator"]
