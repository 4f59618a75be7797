"""Imports every module that registers worker tasks, so a worker knows them all."""

from bestow.campaigns import operator_enrollments
from bestow.issuance import tasks as issuance_tasks

__all__ = ["issuance_tasks", "operator_enrollments"]
