use diesel::prelude::*;

use super::*;

#[derive(QueryableByName)]
struct Step {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// The plan SQLite picks for a viewer's count of their connections that need attention (the banner
/// of My Connections, on every page), on a migrated database.
fn plan_of_a_viewers_count() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::db::Db::connect(&format!("sqlite://{}", dir.path().join("connections.db").display()), 2)
        .unwrap();
    db.migrate().unwrap();
    let mut conn = db.get().unwrap();
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT (SELECT COUNT(*) FROM connections WHERE owner_id = 1 AND {OWN_REASONS}) \
         + (SELECT COUNT(*) FROM connections WHERE owner_id = 1 AND {REFUSED_SERVICE})"
    );
    let steps: Vec<Step> = diesel::sql_query(sql).load(&mut *conn).unwrap();
    steps.into_iter().map(|s| s.detail).collect()
}

#[test]
fn a_viewers_count_reads_the_refused_services_by_their_index_not_every_service() {
    let plan = plan_of_a_viewers_count();
    // Without the partial index the step is `SCAN services`: every service, on every page.
    let services: Vec<&String> = plan.iter().filter(|step| step.contains(" services")).collect();
    assert!(!services.is_empty(), "{plan:#?}");
    assert!(services.iter().all(|step| step.contains("USING INDEX services_client_refused")), "{plan:#?}");
    assert!(plan.iter().any(|step| step.contains("connections_attention")), "{plan:#?}");
}
