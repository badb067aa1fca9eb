"""Autograder toolkit for an introductory deep-learning course."""
__version__ = "0.1.0"
