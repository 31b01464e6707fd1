//! The incident store: one SQLite file in WAL mode, written by a single thread fed through a
//! bounded channel so that requests never wait on the disk.
//!
//! Durability: the writer commits each batch in one transaction; WAL with `synchronous=NORMAL`
//! keeps every committed transaction through a crash of the process (`kill -9`), which is what
//! "acknowledged" means here (the `incidents_written` metric counts commits). Only a power loss
//! can lose the last transactions. The schema version lives in `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use originlens_wire::{Cause, End};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, Type, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};

use crate::incident::{FindingRecord, Incident};
use crate::metrics::Metrics;
use crate::store_postgres;

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i64 = 1;
/// Incidents waiting for the writer at most; more are dropped (and counted).
const QUEUE: usize = 8192;
/// Incidents committed in one transaction at most.
const BATCH: usize = 512;

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("{path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file was written by a newer version.
    #[error("{path}: schema version {found} is newer than this originlens ({SCHEMA_VERSION})")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
    },
    /// No incident matches, or several do.
    #[error("{0}")]
    Lookup(String),
}

const SCHEMA_V1: &str = "
CREATE TABLE incidents (
    id             TEXT PRIMARY KEY,
    at_ms          INTEGER NOT NULL,
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
    connect_ms     REAL,
    first_byte_ms  REAL,
    total_ms       REAL NOT NULL,
    reused         INTEGER NOT NULL,
    conn_uses      INTEGER NOT NULL,
    conn_age_ms    INTEGER NOT NULL,
    retried        INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    raw            BLOB NOT NULL,
    raw_truncated  INTEGER NOT NULL,
    redacted       INTEGER NOT NULL
);
CREATE INDEX incidents_at ON incidents (at_ms);
CREATE INDEX incidents_cause ON incidents (cause, at_ms);
";

/// Opens (and creates or migrates) the database at `path`.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
        });
    }
    if version < 1 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V1} PRAGMA user_version = 1; COMMIT;"
        ))
        .map_err(err)?;
    }
    Ok(conn)
}

fn insert(tx: &rusqlite::Transaction<'_>, i: &Incident) -> rusqlite::Result<usize> {
    let findings = serde_json::to_string(&i.findings).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT OR REPLACE INTO incidents (id, at_ms, method, target, host, origin, profile, cause,
            finding, findings, origin_status, visitor_status, generated_by, end_event, connect_ms,
            first_byte_ms, total_ms, reused, conn_uses, conn_age_ms, retried, bytes, raw,
            raw_truncated, redacted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
    )?
    .execute(params![
        i.id,
        i.at_ms,
        i.method,
        i.target,
        i.host,
        i.origin,
        i.profile,
        i.cause.as_str(),
        i.finding,
        findings,
        i.origin_status,
        i.visitor_status,
        i.generated_by.as_str(),
        i.end.map(End::as_str),
        i.connect_ms,
        i.first_byte_ms,
        i.total_ms,
        i.reused,
        i.conn_uses,
        i.conn_age_ms as i64,
        i.retried,
        i.bytes as i64,
        i.raw,
        i.raw_truncated,
        i.redacted,
    ])
}

/// The sending side used by the proxy. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Writer {
    pub(crate) tx: SyncSender<Incident>,
    pub(crate) metrics: Arc<Metrics>,
}

impl Writer {
    /// Opens the database and starts the writer thread. Dropping every [`Writer`] stops it
    /// after the queue is written. A `postgres://` URL in place of the path writes to
    /// PostgreSQL instead ([`crate::store_postgres`]).
    pub fn start(
        path: &Path,
        metrics: Arc<Metrics>,
    ) -> Result<(Writer, thread::JoinHandle<()>), StoreError> {
        if let Some(url) = path.to_str().filter(|s| store_postgres::is_postgres_url(s)) {
            return store_postgres::start(url, metrics);
        }
        let conn = open(path)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let m = metrics.clone();
        let path = path.to_owned();
        let handle = thread::Builder::new()
            .name("originlens-store".into())
            .spawn(move || write_loop(conn, rx, &m, &path))
            .map_err(|e| StoreError::Lookup(format!("cannot start the store writer: {e}")))?;
        Ok((Writer { tx, metrics }, handle))
    }

    /// Queues an incident without waiting; a full queue drops it (counted).
    pub fn send(&self, incident: Incident) {
        match self.tx.try_send(incident) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.incidents_dropped.inc();
            }
        }
    }
}

fn write_loop(mut conn: Connection, rx: Receiver<Incident>, metrics: &Metrics, path: &Path) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(i) => batch.push(i),
                Err(_) => break,
            }
        }
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for i in &batch {
                insert(&tx, i)?;
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                metrics.incidents_written.inc_by(batch.len() as u64);
            }
            Err(e) => {
                metrics.incidents_dropped.inc_by(batch.len() as u64);
                eprintln!(
                    "originlens edge: store {}: {} incidents lost: {e}",
                    path.display(),
                    batch.len()
                );
            }
        }
    }
}

/// A filter for [`list`].
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Only incidents at or after this Unix time, ms.
    pub since_ms: Option<i64>,
    /// Only this cause.
    pub cause: Option<Cause>,
    /// At most this many, newest first (None: all, oldest first for export).
    pub limit: Option<u32>,
}

/// The incident columns in order, shared by both stores' statements.
pub(crate) const COLUMNS: &str =
    "id, at_ms, method, target, host, origin, profile, cause, finding, findings,
    origin_status, visitor_status, generated_by, end_event, connect_ms, first_byte_ms, total_ms,
    reused, conn_uses, conn_age_ms, retried, bytes, raw, raw_truncated, redacted";

/// A text column read through its type's `FromStr`: a value this build does not know is an
/// error naming the column, not a silent default.
struct Parsed<T>(T);

impl<T> FromSql for Parsed<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map(Parsed)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Incident> {
    let findings: String = r.get(9)?;
    let findings: Vec<FindingRecord> = serde_json::from_str(&findings)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(9, Type::Text, Box::new(e)))?;
    Ok(Incident {
        id: r.get(0)?,
        at_ms: r.get(1)?,
        method: r.get(2)?,
        target: r.get(3)?,
        host: r.get(4)?,
        origin: r.get(5)?,
        profile: r.get(6)?,
        cause: r.get::<_, Parsed<Cause>>(7)?.0,
        finding: r.get(8)?,
        findings,
        origin_status: r.get(10)?,
        visitor_status: r.get(11)?,
        generated_by: r.get::<_, Parsed<_>>(12)?.0,
        end: r.get::<_, Option<Parsed<End>>>(13)?.map(|e| e.0),
        connect_ms: r.get(14)?,
        first_byte_ms: r.get(15)?,
        total_ms: r.get(16)?,
        reused: r.get(17)?,
        conn_uses: r.get(18)?,
        conn_age_ms: r.get::<_, i64>(19)?.max(0) as u64,
        retried: r.get(20)?,
        bytes: r.get::<_, i64>(21)?.max(0) as u64,
        raw: r.get(22)?,
        raw_truncated: r.get(23)?,
        redacted: r.get(24)?,
    })
}

/// Incidents matching `q`: newest first when limited, else oldest first.
pub fn list(conn: &Connection, q: &Query) -> rusqlite::Result<Vec<Incident>> {
    let order = if q.limit.is_some() { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents WHERE at_ms >= ?1 AND (?2 IS NULL OR cause = ?2)
         ORDER BY at_ms {order}, rowid {order} LIMIT ?3"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![
            q.since_ms.unwrap_or(i64::MIN),
            q.cause.map(Cause::as_str),
            q.limit.map_or(-1, i64::from)
        ],
        row,
    )?;
    rows.collect()
}

/// The incident whose id starts with `prefix` (at least 4 hex digits).
pub fn find(conn: &Connection, prefix: &str) -> Result<Incident, StoreError> {
    if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Lookup(format!(
            "`{prefix}`: give at least 4 hex digits of an incident id"
        )));
    }
    let prefix = prefix.to_ascii_lowercase();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE substr(id, 1, ?2) = ?1 LIMIT 2"
        ))
        .map_err(|e| StoreError::Lookup(e.to_string()))?;
    let found: Vec<Incident> = stmt
        .query_map(params![prefix, prefix.len() as i64], row)
        .and_then(|rows| rows.collect())
        .map_err(|e| StoreError::Lookup(e.to_string()))?;
    match found.len() {
        0 => Err(StoreError::Lookup(format!("no incident `{prefix}`"))),
        1 => Ok(found
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Lookup(prefix.clone()))?),
        _ => Err(StoreError::Lookup(format!(
            "`{prefix}` matches several incidents: give more digits"
        ))),
    }
}

/// Counts incidents (for tests and `list` footers).
pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM incidents", [], |r| r.get(0))
        .optional()
        .map(|c| c.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use originlens_wire::{GeneratedBy, Severity};

    pub(crate) fn sample(id: &str, at_ms: i64, cause: &str) -> Incident {
        Incident {
            id: id.into(),
            at_ms,
            method: "GET".into(),
            target: "/empty".into(),
            host: "lab".into(),
            origin: "127.0.0.1:9".into(),
            profile: "cloudflare".into(),
            cause: cause.parse().unwrap(),
            finding: Some(cause.into()),
            findings: vec![FindingRecord {
                id: cause.into(),
                cause: cause.parse().unwrap(),
                severity: Severity::Error,
                offset: 0,
                message: "m".into(),
            }],
            origin_status: None,
            visitor_status: 520,
            generated_by: GeneratedBy::Edge,
            end: Some(End::Eof),
            connect_ms: Some(0.5),
            first_byte_ms: None,
            total_ms: 1.0,
            reused: false,
            conn_uses: 0,
            conn_age_ms: 1,
            retried: false,
            bytes: 0,
            raw: b"\x00\xffHTTP".to_vec(),
            raw_truncated: false,
            redacted: true,
        }
    }

    #[test]
    fn writes_lists_and_finds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.db");
        let metrics = Arc::new(Metrics::new(1));
        let (w, handle) = Writer::start(&path, metrics.clone()).unwrap();
        w.send(sample("aaaa000000000001", 1000, "response.empty"));
        w.send(sample("bbbb000000000002", 2000, "head.truncated"));
        drop(w);
        handle.join().unwrap();
        assert_eq!(metrics.incidents_written.get(), 2);

        let conn = open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!((v, mode.as_str()), (1, "wal"));
        let all = list(&conn, &Query::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], sample("aaaa000000000001", 1000, "response.empty"));
        let newest = list(
            &conn,
            &Query {
                limit: Some(1),
                ..Query::default()
            },
        )
        .unwrap();
        assert_eq!(newest[0].id, "bbbb000000000002");
        let since = list(
            &conn,
            &Query {
                since_ms: Some(1500),
                ..Query::default()
            },
        )
        .unwrap();
        assert_eq!(since.len(), 1);
        let by_cause = Query {
            cause: Some(Cause::ResponseEmpty),
            ..Query::default()
        };
        assert_eq!(list(&conn, &by_cause).unwrap().len(), 1);
        assert_eq!(find(&conn, "BBBB").unwrap().cause, Cause::HeadTruncated);
        assert!(find(&conn, "cccc").is_err());
        assert!(find(&conn, "ab").is_err());
        assert_eq!(count(&conn).unwrap(), 2);
    }

    #[test]
    fn a_value_this_build_does_not_know_is_an_error_not_a_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.db");
        let (w, handle) = Writer::start(&path, Arc::new(Metrics::new(1))).unwrap();
        w.send(sample("aaaa000000000001", 1000, "response.empty"));
        drop(w);
        handle.join().unwrap();
        let conn = open(&path).unwrap();
        conn.execute("UPDATE incidents SET cause = 'no.such'", [])
            .unwrap();
        let err = list(&conn, &Query::default()).unwrap_err().to_string();
        assert!(err.contains("unknown cause id `no.such`"), "{err}");
        conn.execute(
            "UPDATE incidents SET cause = 'response.empty', findings = '[{\"id\":1}]'",
            [],
        )
        .unwrap();
        assert!(find(&conn, "aaaa").is_err());
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.db");
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 7).unwrap();
        drop(c);
        assert!(matches!(
            open(&path),
            Err(StoreError::TooNew { found: 7, .. })
        ));
    }
}
