"""Errors raised for bad input data, with messages that name the file, column and row."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data or a bad preparation request; the message says where and what."""
