"""Shared fixtures: a real throwaway PostgreSQL cluster, fixed host data for snapshots."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from opsconsole.pgcluster import LocalCluster, find_bindir

os.environ.setdefault("OPSCONSOLE_DATA_DIR", "/nonexistent-use-tmp-fixture")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    """A private PostgreSQL cluster with pg_stat_statements preloaded, for the whole session
    (per xdist worker). Tests that restart or break it must use ``pg_cluster_private``."""
    if find_bindir() is None:
        pytest.fail("PostgreSQL server binaries are missing: apt-get install -y postgresql")
    cluster = LocalCluster()
    cluster.init().start()
    cluster.psql("create extension if not exists pg_stat_statements")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_cluster_private() -> Iterator[LocalCluster]:
    """A cluster of one's own, for tests that stop, restart or load the server."""
    cluster = LocalCluster()
    cluster.init().start()
    cluster.psql("create extension if not exists pg_stat_statements")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("OPSCONSOLE_DATA_DIR", str(d))
    return d
