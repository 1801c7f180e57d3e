//! `tollgate-ledger migrate`, the deploy's migration Job: an empty database gets the whole
//! schema, a second run finds nothing to do, and an unreachable database fails the Job.

use std::process::Command;

fn migrate(database_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate-ledger"))
        .arg("migrate")
        .env("DATABASE_URL", database_url)
        .env_remove("NATS_URLS")
        .output()
        .expect("tollgate-ledger runs")
}

#[tokio::test]
async fn migrate_creates_the_schema_once_and_fails_without_a_database() {
    let url = tollgate_testkit::fresh_database().await;
    let first = migrate(&url);
    assert!(first.status.success(), "{first:?}");
    let second = migrate(&url);
    assert!(second.status.success(), "{second:?}");

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(applied as usize, on_disk, "every migration applied once");
    let ledger: Option<String> = sqlx::query_scalar("SELECT to_regclass('ledger_entries')::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(ledger.as_deref(), Some("ledger_entries"));
    pool.close().await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let unreachable = migrate(&format!("postgres://postgres@127.0.0.1:{port}/x"));
    assert!(!unreachable.status.success(), "{unreachable:?}");
    tollgate_testkit::drop_database(&url).await;
}
