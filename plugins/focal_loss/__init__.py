"""Focal loss with an optional extra weight on the tokens that spell entity values."""

from plugins.focal_loss.loss import answer_window, focal_loss, make_loss_func
from plugins.focal_loss.value_tokens import ValueTokenWeigher

__all__ = ["answer_window", "focal_loss", "make_loss_func", "ValueTokenWeigher"]
