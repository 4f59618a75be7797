"""Imports every module that registers worker tasks, so a worker knows them all."""

from bestow.freebets import bulks as freebets_bulks
from bestow.issuance import tasks as issuance_tasks

__all__ = ["freebets_bulks", "issuance_tasks"]
