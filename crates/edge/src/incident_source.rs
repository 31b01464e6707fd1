//! Reading incidents back from either store: a SQLite file or a PostgreSQL URL.

use std::path::Path;

use crate::incident::Incident;
use crate::store::{self, Query, StoreError};
use crate::store_postgres;

/// An open incident store.
pub enum Source {
    /// A SQLite file written by `edge --store FILE`.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL database written by `edge --store postgres://…`.
    Postgres(Box<postgres::Client>),
}

impl Source {
    /// Opens `store`: a `postgres://` URL, or the path of an existing SQLite file.
    pub fn open(store: &Path) -> Result<Source, StoreError> {
        if let Some(url) = store
            .to_str()
            .filter(|s| store_postgres::is_postgres_url(s))
        {
            return Ok(Source::Postgres(Box::new(store_postgres::open(url)?)));
        }
        if !store.exists() {
            return Err(StoreError::Lookup(format!(
                "{}: no such incident store",
                store.display()
            )));
        }
        Ok(Source::Sqlite(store::open(store)?))
    }

    /// Incidents matching `q` (newest first when limited, else oldest first).
    pub fn list(&mut self, q: &Query) -> Result<Vec<Incident>, StoreError> {
        match self {
            Source::Sqlite(c) => store::list(c, q).map_err(|e| StoreError::Lookup(e.to_string())),
            Source::Postgres(c) => store_postgres::list(c, q),
        }
    }

    /// The incident whose id starts with `prefix`.
    pub fn find(&mut self, prefix: &str) -> Result<Incident, StoreError> {
        match self {
            Source::Sqlite(c) => store::find(c, prefix),
            Source::Postgres(c) => store_postgres::find(c, prefix),
        }
    }

    /// How many incidents the store holds.
    pub fn count(&mut self) -> Result<i64, StoreError> {
        match self {
            Source::Sqlite(c) => store::count(c).map_err(|e| StoreError::Lookup(e.to_string())),
            Source::Postgres(c) => store_postgres::count(c),
        }
    }
}
