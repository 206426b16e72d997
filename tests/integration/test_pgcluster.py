from opsconsole.pgcluster import LocalCluster


def test_cluster_runs_with_pg_stat_statements(pg_cluster: LocalCluster):
    out = pg_cluster.psql("select extname from pg_extension where extname = 'pg_stat_statements'")
    assert out.strip() == "pg_stat_statements"
    assert pg_cluster.psql("show shared_preload_libraries").strip() == "pg_stat_statements"
