"""Imports every module that registers worker tasks, so a worker knows them all."""
