"""Checks that compare checkpoints with each other, written once for every store (files,
SQLite, Postgres, Redis, ...): parent chains, id collisions and overwrites, counter order,
several writers on one thread. A store's own checks (file names, temps, index.bin, a
database's schema...) stay with that store."""
