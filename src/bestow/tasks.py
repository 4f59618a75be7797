"""Imports every module that registers worker tasks, so a worker knows them all."""

from bestow.issuance import tasks as issuance_tasks

__all__ = ["issuance_tasks"]
