"""The rules: checksum algorithms, the recognizers that use them, and the model + rules merge."""
