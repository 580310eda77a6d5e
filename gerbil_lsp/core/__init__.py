"""The shared core: Gerbil reader, symbol index, settings, secrets and paths.

Every part (server, data, trainer, harvest, eval) stands on these; nothing here
imports a part.
"""
