"""Training plugins for stock ``llamafactory-cli train``: focal loss and entity-F1 checkpoint
selection, switched on by a recipe's ``pii_factory:`` block (docs/plugins.md)."""
