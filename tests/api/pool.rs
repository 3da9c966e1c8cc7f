//! The database pool hands out consistent, live connections. Our sqlx-core
//! (vendor/README.md) flushes a connection on its way back to the pool
//! instead of pinging it, and the pool pings only a connection that sat
//! idle (`startup::connect`); these tests hold the pool to what the pings
//! guaranteed. One connection per pool, so every statement after the first
//! reuses the connection the first one left.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use tandem::config::DatabaseConfig;
use tandem::startup;

use crate::helpers::Backend;

/// A pool of one connection, whose statements (SQLite: waits for the
/// write lock) give up after `statement_timeout`.
async fn pool_of_one(url: &str, statement_timeout: Duration) -> DatabaseConnection {
    startup::connect(&DatabaseConfig {
        url: url.to_owned(),
        read_url: None,
        pool_size: 1,
        acquire_timeout: Duration::from_secs(10),
        statement_timeout,
    })
    .await
    .expect("connect")
}

async fn one_connection_pool(url: &str) -> DatabaseConnection {
    pool_of_one(url, Duration::from_secs(10)).await
}

/// A second pool on the same SQLite file whose statements give up at once
/// when another connection holds the write lock (busy timeout zero).
async fn never_waiting_writer(url: &str) -> DatabaseConnection {
    pool_of_one(url, Duration::ZERO).await
}

/// A one-connection pool on `TEST_DATABASE_URL`'s PostgreSQL, with its URL;
/// None when the PostgreSQL variant does not run.
async fn postgres_pool() -> Option<(String, DatabaseConnection)> {
    let Some(Backend::Postgres(url)) = Backend::postgres() else {
        return None;
    };
    let db = one_connection_pool(&url).await;
    Some((url, db))
}

/// The server process behind the pool's one connection: it changes only
/// when the pool replaced the connection.
async fn backend_pid(db: &DatabaseConnection) -> i32 {
    scalar(db, "SELECT pg_backend_pid()").await
}

/// The first column of the one row `sql` answers.
async fn scalar<T: sea_orm::TryGetable>(db: &DatabaseConnection, sql: &str) -> T {
    let statement = Statement::from_string(db.get_database_backend(), sql);
    let row = db.query_one_raw(statement).await.unwrap().expect("a row");
    row.try_get_by_index(0).unwrap()
}

/// A request cancelled while PostgreSQL was still answering (a client that
/// hung up, a timeout) leaves the connection with an answer in flight: the
/// next statement on it gets its own answer, on the same connection. (The
/// pool's flush reads the rest of the answer; sqlx's executor would too,
/// before its next statement: this holds the pair of them to it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_abandoned_mid_flight_leaves_the_next_one_its_own_answer() {
    let Some((_, db)) = postgres_pool().await else {
        return;
    };
    let connection = backend_pid(&db).await;
    let slow = Statement::from_string(
        db.get_database_backend(),
        "SELECT 1 AS answer FROM pg_sleep(0.5)",
    );
    let abandoned = tokio::time::timeout(Duration::from_millis(50), db.query_one_raw(slow)).await;
    assert!(abandoned.is_err(), "the statement was abandoned unanswered");
    let answer: i32 = scalar(&db, "SELECT 2").await;
    assert_eq!(answer, 2);
    let after = backend_pid(&db).await;
    assert_eq!(after, connection, "the connection was kept, not replaced");
}

/// A transaction dropped without commit (a resolver that returned early
/// with an error) is rolled back before its connection serves anyone else.
async fn a_transaction_dropped_unfinished_is_rolled_back_before_reuse(backend: Backend) {
    let (url, _dir) = match backend {
        Backend::Postgres(url) => (url, None),
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("pool.db").display());
            (url, Some(dir))
        }
    };
    let db = one_connection_pool(&url).await;
    let table = format!("dropped_{}", uuid::Uuid::new_v4().simple());
    {
        let unfinished = db.begin().await.unwrap();
        unfinished
            .execute_unprepared(&format!("CREATE TABLE {table} (x INTEGER)"))
            .await
            .unwrap();
    }
    let count_sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            format!("SELECT COUNT(*) FROM pg_tables WHERE tablename = '{table}'")
        }
        _ => format!("SELECT COUNT(*) FROM sqlite_master WHERE name = '{table}'"),
    };
    let tables: i64 = scalar(&db, &count_sql).await;
    assert_eq!(tables, 0, "the table of the dropped transaction is gone");
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            // Outside a transaction every statement has its own id; inside
            // the one left open, both would share it.
            let first: i64 = scalar(&db, "SELECT txid_current()").await;
            let second: i64 = scalar(&db, "SELECT txid_current()").await;
            assert_ne!(first, second, "no transaction is left open");
        }
        _ => {
            // The write lock is free: a writer that never waits gets in.
            never_waiting_writer(&url)
                .await
                .execute_unprepared(&format!("CREATE TABLE {table} (x INTEGER)"))
                .await
                .expect("no transaction holds the write lock");
        }
    }
}

crate::both!(a_transaction_dropped_unfinished_is_rolled_back_before_reuse);

/// A connection the server closed while it sat in the pool (a restart, a
/// firewall's idle timeout) is found out before it is handed out: the next
/// statement runs on a new connection instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_while_idle_is_replaced_not_handed_out() {
    let Some((url, db)) = postgres_pool().await else {
        return;
    };
    let closed = backend_pid(&db).await;
    let admin = sea_orm::Database::connect(&url).await.unwrap();
    let terminated: bool = scalar(
        &admin,
        &format!("SELECT pg_terminate_backend({closed}, 5000)"),
    )
    .await;
    assert!(terminated);
    // Idle for longer than the pool trusts a connection unchecked: a
    // precondition, not a timed assertion.
    tokio::time::sleep(startup::PING_AFTER_IDLE + Duration::from_millis(500)).await;
    let answer: i32 = scalar(&db, "SELECT 3").await;
    assert_eq!(answer, 3);
    let now = backend_pid(&db).await;
    assert_ne!(now, closed, "a new connection");
}

/// SQLite applies a dropped transaction's rollback on its worker thread, on
/// its own time. A write transaction begun on the same connection right
/// after it must still take the write lock at once (`BEGIN IMMEDIATE`,
/// `domain::write_txn`), so that concurrent writers queue rather than fail;
/// begun while the rollback was pending, it would be a deferred one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_transaction_after_a_dropped_one_takes_the_write_lock_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("pool.db").display());
    let db = one_connection_pool(&url).await;
    let other = never_waiting_writer(&url).await;
    db.execute_unprepared("CREATE TABLE written (x INTEGER)")
        .await
        .unwrap();
    for round in 0..50 {
        {
            let dropped = tandem::domain::write_txn(&db).await.unwrap();
            dropped
                .execute_unprepared("INSERT INTO written VALUES (1)")
                .await
                .unwrap();
        }
        let held = tandem::domain::write_txn(&db).await.unwrap();
        let second = other
            .execute_unprepared("INSERT INTO written VALUES (2)")
            .await;
        let refusal = second.expect_err("the second writer got in").to_string();
        assert!(
            refusal.contains("locked"),
            "round {round}: refused for the lock, not for {refusal}"
        );
        held.rollback().await.unwrap();
    }
    let rows: i64 = scalar(&db, "SELECT COUNT(*) FROM written").await;
    assert_eq!(rows, 0, "every transaction was rolled back");
}
