"""Small utilities every stage may use: atomic writes, file hashing, resource paths and the shared frame types.

Nothing here knows about faces, affect or storage formats; every other core package may import it.
"""
