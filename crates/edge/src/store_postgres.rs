//! The incident store in PostgreSQL, shared by a fleet of edges: the same rows, schema version
//! and redaction as the SQLite store, written off the request path.
//!
//! One writer thread per edge owns the connection. Incidents wait in a bounded queue (the
//! local buffer) while the database is away; the writer reconnects with backoff and retries the
//! batch it holds, and what a full queue refuses is counted in `incidents_dropped`, never lost
//! silently. Rows are inserted with `ON CONFLICT (id) DO NOTHING`, so a batch retried after a
//! commit whose answer was lost still leaves each incident once. Migrations run under an
//! advisory lock, so edges that start together agree on one schema.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use originlens_wire::Cause;
use postgres::{Client, NoTls, Row};

use crate::incident::{FindingRecord, Incident};
use crate::metrics::Metrics;
use crate::store::{Query, StoreError, Writer, COLUMNS, SCHEMA_VERSION};

/// Incidents buffered while the database is slow or away; more are dropped (and counted).
pub const QUEUE: usize = 8192;
/// Incidents committed in one transaction at most.
const BATCH: usize = 512;
/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a stopping edge keeps trying to write what it still holds.
const FLUSH_ON_STOP: Duration = Duration::from_secs(5);
/// Key of the advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x6f72_6967_696e_6c73;

/// Is `store` a PostgreSQL connection URL rather than a file?
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// The URL without its password, for messages.
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or(user);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

fn pg_err(url: &str, e: postgres::Error) -> StoreError {
    StoreError::Lookup(format!("{}: {e}", display_url(url)))
}

const MIGRATIONS: &[&str] = &["
CREATE TABLE incidents (
    id             TEXT PRIMARY KEY,
    at_ms          BIGINT NOT NULL,
    method         TEXT NOT NULL,
    target         TEXT NOT NULL,
    host           TEXT NOT NULL,
    origin         TEXT NOT NULL,
    profile        TEXT NOT NULL,
    cause          TEXT NOT NULL,
    finding        TEXT,
    findings       TEXT NOT NULL,
    origin_status  INTEGER,
    visitor_status INTEGER NOT NULL,
    generated_by   TEXT NOT NULL,
    end_event      TEXT,
    connect_ms     DOUBLE PRECISION,
    first_byte_ms  DOUBLE PRECISION,
    total_ms       DOUBLE PRECISION NOT NULL,
    reused         BOOLEAN NOT NULL,
    conn_uses      INTEGER NOT NULL,
    conn_age_ms    BIGINT NOT NULL,
    retried        BOOLEAN NOT NULL,
    bytes          BIGINT NOT NULL,
    raw            BYTEA NOT NULL,
    raw_truncated  BOOLEAN NOT NULL,
    redacted       BOOLEAN NOT NULL
);
CREATE INDEX incidents_at ON incidents (at_ms);
CREATE INDEX incidents_cause ON incidents (cause, at_ms);
"];

/// Connects and brings the schema to [`SCHEMA_VERSION`].
pub fn open(url: &str) -> Result<Client, StoreError> {
    let mut client = Client::connect(url, NoTls).map_err(|e| pg_err(url, e))?;
    migrate(&mut client).map_err(|e| pg_err(url, e))?;
    let version: i32 = client
        .query_one("SELECT version FROM originlens_schema", &[])
        .map_err(|e| pg_err(url, e))?
        .get(0);
    if i64::from(version) > SCHEMA_VERSION {
        return Err(StoreError::Lookup(format!(
            "{}: schema version {version} is newer than this originlens ({SCHEMA_VERSION})",
            display_url(url)
        )));
    }
    Ok(client)
}

fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS originlens_schema (version INTEGER NOT NULL)")?;
    let current: i32 = match tx.query_opt("SELECT version FROM originlens_schema", &[])? {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO originlens_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i32 + 1;
        if version > current {
            tx.batch_execute(sql)?;
            tx.execute("UPDATE originlens_schema SET version = $1", &[&version])?;
        }
    }
    tx.commit()
}

fn insert_batch(client: &mut Client, batch: &[Incident]) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    let placeholders: Vec<String> = (1..=25).map(|n| format!("${n}")).collect();
    let stmt = tx.prepare(&format!(
        "INSERT INTO incidents ({COLUMNS}) VALUES ({}) ON CONFLICT (id) DO NOTHING",
        placeholders.join(", ")
    ))?;
    for i in batch {
        let findings = serde_json::to_string(&i.findings).unwrap_or_else(|_| "[]".into());
        let cause = i.cause.to_string();
        let finding = i.finding.as_ref().map(|f| f.to_string());
        let generated_by = i.generated_by.to_string();
        let end = i.end.as_ref().map(|e| e.to_string());
        let origin_status = i.origin_status.map(i32::from);
        let visitor_status = i32::from(i.visitor_status);
        let conn_uses = i.conn_uses as i32;
        let conn_age_ms = i.conn_age_ms as i64;
        let bytes = i.bytes as i64;
        tx.execute(
            &stmt,
            &[
                &i.id,
                &i.at_ms,
                &i.method,
                &i.target,
                &i.host,
                &i.origin,
                &i.profile,
                &cause,
                &finding,
                &findings,
                &origin_status,
                &visitor_status,
                &generated_by,
                &end,
                &i.connect_ms,
                &i.first_byte_ms,
                &i.total_ms,
                &i.reused,
                &conn_uses,
                &conn_age_ms,
                &i.retried,
                &bytes,
                &i.raw,
                &i.raw_truncated,
                &i.redacted,
            ],
        )?;
    }
    tx.commit()
}

/// Connects once (so a wrong URL or password is reported at start, not later), migrates, and
/// starts the writer thread. Dropping every [`Writer`] stops it after a last flush.
pub fn start(
    url: &str,
    metrics: Arc<Metrics>,
) -> Result<(Writer, thread::JoinHandle<()>), StoreError> {
    // The sync client runs its own runtime, so it cannot be opened on an async thread.
    let opening = url.to_owned();
    let client = thread::spawn(move || open(&opening))
        .join()
        .map_err(|_| StoreError::Lookup("the store connection panicked".to_owned()))??;
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let m = metrics.clone();
    let url = url.to_owned();
    let handle = thread::Builder::new()
        .name("originlens-store-pg".into())
        .spawn(move || write_loop(Some(client), &url, rx, &m))
        .map_err(|e| StoreError::Lookup(format!("cannot start the store writer: {e}")))?;
    Ok((Writer { tx, metrics }, handle))
}

fn write_loop(mut client: Option<Client>, url: &str, rx: Receiver<Incident>, metrics: &Metrics) {
    let mut batch: Vec<Incident> = Vec::new();
    let mut backoff = Duration::from_millis(100);
    let mut stopping_since: Option<Instant> = None;
    loop {
        // Fill the batch: wait for the first incident only when holding none.
        if batch.is_empty() {
            match rx.recv() {
                Ok(i) => batch.push(i),
                Err(_) => return,
            }
        }
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(i) => batch.push(i),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    stopping_since.get_or_insert_with(Instant::now);
                    break;
                }
            }
        }
        let written = match client.as_mut() {
            Some(c) => insert_batch(c, &batch).map_err(|e| e.to_string()),
            None => Err("not connected".to_owned()),
        };
        match written {
            Ok(()) => {
                metrics.incidents_written.inc_by(batch.len() as u64);
                batch.clear();
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                if client.take().is_some() {
                    eprintln!(
                        "originlens edge: store {}: {e}; reconnecting, {} incidents held",
                        display_url(url),
                        batch.len()
                    );
                }
                if stopping_since.is_some_and(|t| t.elapsed() > FLUSH_ON_STOP) {
                    metrics.incidents_dropped.inc_by(batch.len() as u64);
                    eprintln!(
                        "originlens edge: store {}: stopping with {} incidents not written",
                        display_url(url),
                        batch.len()
                    );
                    return;
                }
                // Wait before reconnecting, noticing a stop meanwhile.
                match rx.recv_timeout(backoff) {
                    Ok(i) if batch.len() < QUEUE => batch.push(i),
                    Ok(_) => {
                        metrics.incidents_dropped.inc();
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        stopping_since.get_or_insert_with(Instant::now);
                        thread::sleep(backoff.min(Duration::from_millis(200)));
                    }
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                client = open(url).ok();
            }
        }
    }
}

fn parse<T: std::str::FromStr>(column: &str, s: String) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Lookup(format!("column {column}: unknown value `{s}`")))
}

fn row(r: &Row) -> Result<Incident, StoreError> {
    let findings: String = r.get("findings");
    let findings: Vec<FindingRecord> = serde_json::from_str(&findings)
        .map_err(|e| StoreError::Lookup(format!("column findings: {e}")))?;
    let finding: Option<String> = r.get("finding");
    let end: Option<String> = r.get("end_event");
    Ok(Incident {
        id: r.get("id"),
        at_ms: r.get("at_ms"),
        method: r.get("method"),
        target: r.get("target"),
        host: r.get("host"),
        origin: r.get("origin"),
        profile: r.get("profile"),
        cause: parse("cause", r.get("cause"))?,
        finding,
        findings,
        origin_status: r
            .get::<_, Option<i32>>("origin_status")
            .and_then(|s| u16::try_from(s).ok()),
        visitor_status: u16::try_from(r.get::<_, i32>("visitor_status")).unwrap_or(0),
        generated_by: parse("generated_by", r.get("generated_by"))?,
        end: end.map(|e| parse("end_event", e)).transpose()?,
        connect_ms: r.get("connect_ms"),
        first_byte_ms: r.get("first_byte_ms"),
        total_ms: r.get("total_ms"),
        reused: r.get("reused"),
        conn_uses: r.get::<_, i32>("conn_uses").max(0) as u32,
        conn_age_ms: r.get::<_, i64>("conn_age_ms").max(0) as u64,
        retried: r.get("retried"),
        bytes: r.get::<_, i64>("bytes").max(0) as u64,
        raw: r.get("raw"),
        raw_truncated: r.get("raw_truncated"),
        redacted: r.get("redacted"),
    })
}

/// Incidents matching `q`: newest first when limited, else oldest first (like the SQLite store).
pub fn list(client: &mut Client, q: &Query) -> Result<Vec<Incident>, StoreError> {
    let order = if q.limit.is_some() { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents WHERE at_ms >= $1 AND ($2::TEXT IS NULL OR cause = $2)
         ORDER BY at_ms {order}, id {order} LIMIT $3"
    );
    let limit: Option<i64> = q.limit.map(i64::from);
    let rows = client
        .query(
            &sql,
            &[
                &q.since_ms.unwrap_or(i64::MIN),
                &q.cause.map(Cause::as_str),
                &limit,
            ],
        )
        .map_err(|e| StoreError::Lookup(e.to_string()))?;
    rows.iter().map(row).collect()
}

/// The incident whose id starts with `prefix` (at least 4 hex digits).
pub fn find(client: &mut Client, prefix: &str) -> Result<Incident, StoreError> {
    if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Lookup(format!(
            "`{prefix}`: give at least 4 hex digits of an incident id"
        )));
    }
    let prefix = prefix.to_ascii_lowercase();
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM incidents WHERE id LIKE $1 || '%' LIMIT 2"),
            &[&prefix],
        )
        .map_err(|e| StoreError::Lookup(e.to_string()))?;
    match rows.as_slice() {
        [] => Err(StoreError::Lookup(format!("no incident `{prefix}`"))),
        [one] => row(one),
        _ => Err(StoreError::Lookup(format!(
            "`{prefix}` matches several incidents: give more digits"
        ))),
    }
}

/// Counts incidents.
pub fn count(client: &mut Client) -> Result<i64, StoreError> {
    client
        .query_one("SELECT count(*) FROM incidents", &[])
        .map(|r| r.get(0))
        .map_err(|e| StoreError::Lookup(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_and_passwords_hidden() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("incidents.db"));
        assert_eq!(
            display_url("postgres://edge:s3cret@db.internal:5432/fleet"),
            "postgres://edge:***@db.internal:5432/fleet"
        );
        assert_eq!(display_url("postgres://db/fleet"), "postgres://db/fleet");
    }
}
