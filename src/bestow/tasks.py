"""Registers every worker task: importing this module imports every domain module.

Tasks are declared by the domains that enqueue them (``bestow.kit.jobs.task``); the worker
imports this module (``bestow.worker.runner.import_task_modules``) to know them all. Nothing is
listed by hand: ``bestow.domains.load`` finds every module of every domain package.
"""

from bestow import domains

MODULES = domains.load()
