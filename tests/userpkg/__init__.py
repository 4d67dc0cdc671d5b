"""A user package: a folder under the working directory, outside every environment.

Memoized code that uses it is keyed by its functions' code and the globals they read.
"""
