"""The checks every entry passes before it is written: secrets, readability, identifiers."""
