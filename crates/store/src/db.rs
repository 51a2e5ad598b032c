//! The one seam between Rapport and its two databases. Portable SQL is written
//! once with `$1..$n` placeholders; arguments and columns are typed here, so a
//! store function never matches on the backend. Instants are stored as
//! microseconds since the Unix epoch (UTC) in a 64-bit integer on both.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Postgres, Row as _, SqlSafeStr, Sqlite};

use super::StoreError;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The product's name for it, for people.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A pool of one backend or the other.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A bound argument. Nulls carry their type, because PostgreSQL checks it.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    /// A blob (`BLOB` on SQLite, `BYTEA` on PostgreSQL); one row at a time,
    /// never through `insert_rows`.
    Bytes(Vec<u8>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<Timestamp> for Arg {
    fn from(v: Timestamp) -> Self {
        Arg::Int(Some(micros(v)))
    }
}

impl From<Option<Timestamp>> for Arg {
    fn from(v: Option<Timestamp>) -> Self {
        Arg::Int(v.map(micros))
    }
}

/// Appends each filter that has a value (`("status =", value)`) as
/// ` AND status = $n`, then a page's order and limit: by `id`, one row more
/// than `limit` (which tells whether another page follows).
pub fn page_filters<const N: usize>(
    sql: &mut String,
    values: &mut Vec<Arg>,
    filters: [(&str, Option<Arg>); N],
    limit: usize,
) {
    for (condition, value) in filters {
        if let Some(value) = value {
            values.push(value);
            sql.push_str(&format!(" AND {condition} ${}", values.len()));
        }
    }
    values.push(((limit + 1) as i64).into());
    sql.push_str(&format!(" ORDER BY id LIMIT ${}", values.len()));
}

/// Builds an argument list: `args![org, id, version]`-like, without a macro.
pub fn args<const N: usize>(values: [Arg; N]) -> Vec<Arg> {
    Vec::from(values)
}

pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub fn from_micros(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us).map_err(|_| StoreError::Corrupt("timestamp out of range"))
}

/// One result row, read by column name.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    pub fn text(&self, col: &str) -> Result<String, StoreError> {
        self.opt_text(col)?.ok_or(StoreError::Corrupt("unexpected NULL text column"))
    }

    pub fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub fn int(&self, col: &str) -> Result<i64, StoreError> {
        self.opt_int(col)?.ok_or(StoreError::Corrupt("unexpected NULL integer column"))
    }

    pub fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub fn timestamp(&self, col: &str) -> Result<Timestamp, StoreError> {
        from_micros(self.int(col)?)
    }

    /// Parses a text column into a domain value; a failure means the row was
    /// written by something that bypassed validation.
    pub fn parsed<T: std::str::FromStr>(&self, col: &str) -> Result<T, StoreError> {
        self.text(col)?.parse().map_err(|_| StoreError::Corrupt("column holds an invalid value"))
    }

    pub fn opt_parsed<T: std::str::FromStr>(&self, col: &str) -> Result<Option<T>, StoreError> {
        self.opt_text(col)?
            .map(|s| s.parse().map_err(|_| StoreError::Corrupt("column holds an invalid value")))
            .transpose()
    }
}

/// SQLite's `sqlite3_bind_parameter_name` walks every named parameter, and
/// sqlx calls it for each one, so binding `$1…$n` costs O(n²): a second for a
/// 20,000-parameter insert. Anonymous `?` parameters have no names and bind
/// in order, so each `$N` occurrence becomes `?` with its argument placed at
/// that position (an argument used twice is bound twice).
fn sqlite_positional(sql: impl SqlSafeStr, args: Vec<Arg>) -> (sqlx::AssertSqlSafe<String>, Vec<Arg>) {
    let sql = sql.into_sql_str();
    let text = sql.as_str();
    let mut out = String::with_capacity(text.len());
    let mut order = Vec::with_capacity(args.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        let number = (bytes[i] == b'$' && digits > 0)
            .then(|| text[i + 1..i + 1 + digits].parse::<usize>().ok())
            .flatten()
            .filter(|n| (1..=args.len()).contains(n));
        match number {
            Some(n) => {
                out.push('?');
                order.push(n - 1);
                i += 1 + digits;
            }
            None => {
                let len = text[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&text[i..i + len]);
                i += len;
            }
        }
    }
    // Each argument moves to its last use and is copied to earlier ones: a
    // bulk insert's 20,000 arguments are each used once and never copied.
    let mut uses = vec![0usize; args.len()];
    for &n in &order {
        uses[n] += 1;
    }
    let mut args: Vec<Option<Arg>> = args.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(order.len());
    for n in order {
        uses[n] -= 1;
        let arg = if uses[n] == 0 { args[n].take() } else { args[n].clone() };
        ordered.extend(arg);
    }
    (sqlx::AssertSqlSafe(out), ordered)
}

fn sqlite_query(
    sql: impl SqlSafeStr,
    args: Vec<Arg>,
) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
    let (sql, args) = sqlite_positional(sql, args);
    let mut q = sqlx::query(sql);
    for arg in args {
        q = match arg {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::Bytes(v) => q.bind(v),
        };
    }
    q
}

fn pg_query(
    sql: impl SqlSafeStr,
    args: Vec<Arg>,
) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(sql);
    for arg in args {
        q = match arg {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::Bytes(v) => q.bind(v),
        };
    }
    q
}

/// Options for opening a database.
#[derive(Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    /// SQLite only: the SQLCipher key that encrypts the whole file. Needs a
    /// build with the `sqlcipher` feature; without it, opening refuses.
    pub sqlite_key: Option<String>,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { max_connections: 8, sqlite_key: None }
    }
}

impl std::fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if self.sqlite_key.is_some() { "[redacted]" } else { "none" };
        write!(f, "DbOptions {{ max_connections: {}, sqlite_key: {key} }}", self.max_connections)
    }
}

/// `PRAGMA key`'s argument: a quoted string literal (the pragma takes no parameters).
fn sqlcipher_key_literal(key: &str) -> String {
    format!("'{}'", key.replace('\'', "''"))
}

impl Db {
    /// Opens `url`: `sqlite://PATH` (created if missing, WAL, `synchronous=FULL`)
    /// or `postgres://…`.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = url
                .parse::<sqlx::postgres::PgConnectOptions>()?
                .log_statements(log::LevelFilter::Off)
                .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1));
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await?;
            return Ok(Db::Postgres(pool));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-65536")
            // Statement logs would only repeat our SQL; request logs say what matters.
            .log_statements(log::LevelFilter::Off)
            .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1));
        // sqlx sends `key` first, as SQLCipher requires, before any other pragma.
        let connect = match &options.sqlite_key {
            Some(key) => connect.pragma("key", sqlcipher_key_literal(key)),
            None => connect,
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .connect_with(connect)
            .await
            .map_err(|error| match (&options.sqlite_key, &error) {
                (Some(_), sqlx::Error::Database(db)) if db.message().contains("not a database") => {
                    StoreError::Database("the database key is wrong, or the file is not an encrypted database".into())
                }
                _ => error.into(),
            })?;
        if options.sqlite_key.is_some() {
            // Without SQLCipher, `PRAGMA key` is ignored in silence and the file stays plain.
            let cipher = sqlx::query("PRAGMA cipher_version").fetch_optional(&pool).await?;
            if cipher.is_none() {
                pool.close().await;
                return Err(StoreError::Database(
                    "database_key is set but this build has no SQLCipher: build with `--features sqlcipher`".into(),
                ));
            }
        }
        Ok(Db::Sqlite(pool))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// What a queue's claim subquery appends so that concurrent claimers
    /// pass over each other's rows: `FOR UPDATE SKIP LOCKED` on PostgreSQL;
    /// nothing on SQLite, where one writer runs at a time.
    pub fn skip_locked(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// What a read appends to lock its rows until the transaction ends:
    /// `FOR UPDATE` on PostgreSQL; nothing on SQLite, whose transactions
    /// (`BEGIN IMMEDIATE`) already hold the one write lock.
    pub fn for_update(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => "FOR UPDATE",
        }
    }

    pub async fn execute(&self, sql: impl SqlSafeStr, args: Vec<Arg>) -> Result<u64, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => sqlite_query(sql, args).execute(p).await?.rows_affected(),
            Db::Postgres(p) => pg_query(sql, args).execute(p).await?.rows_affected(),
        })
    }

    pub async fn fetch_all(&self, sql: impl SqlSafeStr, args: Vec<Arg>) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => sqlite_query(sql, args).fetch_all(p).await?.into_iter().map(Row::Sqlite).collect(),
            Db::Postgres(p) => pg_query(sql, args).fetch_all(p).await?.into_iter().map(Row::Postgres).collect(),
        })
    }

    pub async fn fetch_optional(&self, sql: impl SqlSafeStr, args: Vec<Arg>) -> Result<Option<Row>, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => sqlite_query(sql, args).fetch_optional(p).await?.map(Row::Sqlite),
            Db::Postgres(p) => pg_query(sql, args).fetch_optional(p).await?.map(Row::Postgres),
        })
    }

    /// After a bulk change: `ANALYZE` of the registry tables on PostgreSQL
    /// (autovacuum would, later), `PRAGMA optimize` on SQLite (which has no
    /// autovacuum).
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        let sql = match self {
            Db::Postgres(_) => "ANALYZE patients, patient_contacts, patient_identifiers, patient_codes, appointments",
            Db::Sqlite(_) => "PRAGMA optimize",
        };
        self.execute(sql, vec![]).await.map(drop)
    }

    /// Writes a consistent copy of the whole database to `path` while it
    /// stays in use (SQLite's `VACUUM INTO`). PostgreSQL has its own tools.
    pub async fn snapshot_into(&self, path: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(_) => self.execute("VACUUM INTO $1", vec![path.into()]).await.map(drop),
            Db::Postgres(_) => Err(StoreError::Corrupt("a PostgreSQL database is backed up with pg_dump")),
        }
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            // IMMEDIATE: a transaction takes the write lock when it begins,
            // waiting its turn (`busy_timeout`). A deferred one that read first
            // would fail at once (SQLITE_BUSY_SNAPSHOT) when another writer,
            // in this process or another, committed since its read.
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// A transaction. Dropped without [`commit`](Tx::commit), it rolls back, so
/// an error anywhere leaves nothing half-written.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// As [`Db::for_update`], inside a transaction.
    pub fn for_update(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => "FOR UPDATE",
        }
    }

    pub async fn execute(&mut self, sql: impl SqlSafeStr, args: Vec<Arg>) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Sqlite(t) => sqlite_query(sql, args).execute(&mut **t).await?.rows_affected(),
            Tx::Postgres(t) => pg_query(sql, args).execute(&mut **t).await?.rows_affected(),
        })
    }

    pub async fn fetch_all(&mut self, sql: impl SqlSafeStr, args: Vec<Arg>) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(t) => sqlite_query(sql, args).fetch_all(&mut **t).await?.into_iter().map(Row::Sqlite).collect(),
            Tx::Postgres(t) => pg_query(sql, args).fetch_all(&mut **t).await?.into_iter().map(Row::Postgres).collect(),
        })
    }

    pub async fn fetch_optional(&mut self, sql: impl SqlSafeStr, args: Vec<Arg>) -> Result<Option<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(t) => sqlite_query(sql, args).fetch_optional(&mut **t).await?.map(Row::Sqlite),
            Tx::Postgres(t) => pg_query(sql, args).fetch_optional(&mut **t).await?.map(Row::Postgres),
        })
    }

    /// Runs several statements separated by `;` (migrations).
    pub async fn execute_script(&mut self, sql: &'static str) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(drop)?,
            Tx::Postgres(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(drop)?,
        };
        Ok(())
    }

    /// Rows of `select` whose `column` is one of `values` (any number), with the other
    /// arguments `args` numbered first (`$1..$n`); the values are appended
    /// as `IN (…)` on SQLite, and on PostgreSQL as one `text[]` parameter
    /// joined LATERAL, so each value is its own exact index probe. There an
    /// IN list, `= ANY` or a semi-join let the planner, whose statistics lag
    /// behind a bulk load, filter every row of the organization instead:
    /// half a second per 1,000 keys at 20,000 rows, growing with the table.
    pub async fn fetch_where_in(
        &mut self,
        select: &str,
        column: &str,
        args: Vec<Arg>,
        values: &[&str],
    ) -> Result<Vec<Row>, StoreError> {
        let next = args.len() + 1;
        match self {
            Tx::Postgres(t) => {
                let sql = format!(
                    "SELECT t.* FROM UNNEST(${next}::text[]) AS k(v) CROSS JOIN LATERAL ({select} AND {column} = k.v) AS t"
                );
                let mut q = pg_query(sqlx::AssertSqlSafe(sql), args);
                q = q.bind(values.iter().map(|v| (*v).to_owned()).collect::<Vec<String>>());
                Ok(q.fetch_all(&mut **t).await?.into_iter().map(Row::Postgres).collect())
            }
            Tx::Sqlite(_) => {
                // Chunks keep each statement far under SQLite's parameter limit.
                let mut rows = Vec::new();
                for chunk in values.chunks(1000) {
                    let sql = format!("{select} AND {column} IN ({})", placeholders(next, chunk.len()));
                    let mut all = args.clone();
                    all.extend(chunk.iter().map(|v| Arg::from(*v)));
                    rows.extend(self.fetch_all(sqlx::AssertSqlSafe(sql), all).await?);
                }
                Ok(rows)
            }
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// `$start, $start+1, …` for `count` placeholders: IN lists and multi-row VALUES.
pub fn placeholders(start: usize, count: usize) -> String {
    (start..start + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `($s, …), ($s+w, …), …`: `rows` tuples of `width` parameters from `$start`,
/// for a `VALUES` list (whose columns both backends name `column1`, `column2`, …).
pub fn tuples(start: usize, rows: usize, width: usize) -> String {
    (0..rows).map(|r| format!("({})", placeholders(start + r * width, width))).collect::<Vec<_>>().join(", ")
}

/// Inserts `rows` into `into` (`table (col, …)`), all columns given. On
/// SQLite: multi-row VALUES in chunks under its parameter limit. On
/// PostgreSQL: one array per column through `UNNEST`, so a batch is one
/// statement with as many parameters as columns, whatever its length.
pub async fn insert_rows(tx: &mut Tx, into: &'static str, rows: Vec<Vec<Arg>>) -> Result<(), StoreError> {
    insert_rows_then(tx, into, rows, "").await
}

/// [`insert_rows`] with a clause after the rows (`ON CONFLICT … DO NOTHING`).
pub async fn insert_rows_then(
    tx: &mut Tx,
    into: &'static str,
    rows: Vec<Vec<Arg>>,
    then: &'static str,
) -> Result<(), StoreError> {
    let Some(first) = rows.first() else { return Ok(()) };
    let width = first.len();
    if let Tx::Postgres(t) = tx {
        let types: Vec<&str> =
            first.iter().map(|a| if matches!(a, Arg::Int(_)) { "int8[]" } else { "text[]" }).collect();
        let arrays: Vec<String> = types.iter().enumerate().map(|(i, ty)| format!("${}::{ty}", i + 1)).collect();
        let sql = format!("INSERT INTO {into} SELECT * FROM UNNEST({}) {then}", arrays.join(", "));
        let mut ints: Vec<Vec<Option<i64>>> = vec![Vec::new(); width];
        let mut texts: Vec<Vec<Option<String>>> = vec![Vec::new(); width];
        for row in rows {
            // UNNEST pads short arrays with NULLs: a row of another shape must fail, not shift.
            if row.len() != width {
                return Err(StoreError::Corrupt("insert rows differ in width"));
            }
            for (column, arg) in row.into_iter().enumerate() {
                match (arg, types[column]) {
                    (Arg::Int(v), "int8[]") => ints[column].push(v),
                    (Arg::Text(v), "text[]") => texts[column].push(v),
                    _ => return Err(StoreError::Corrupt("insert rows differ in column types")),
                }
            }
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (column, ty) in types.iter().enumerate() {
            query = if *ty == "int8[]" {
                query.bind(std::mem::take(&mut ints[column]))
            } else {
                query.bind(std::mem::take(&mut texts[column]))
            };
        }
        query.execute(&mut **t).await?;
        return Ok(());
    }
    const MAX_PARAMS: usize = 30_000;
    let per_chunk = (MAX_PARAMS / width).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_chunk).collect();
        let tuples: Vec<String> =
            (0..chunk.len()).map(|i| format!("({})", placeholders(i * width + 1, width))).collect();
        let sql = format!("INSERT INTO {into} VALUES {} {then}", tuples.join(", "));
        tx.execute(sqlx::AssertSqlSafe(sql), chunk.into_iter().flatten().collect()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Arg, sqlite_positional};

    #[test]
    fn sqlite_gets_anonymous_parameters_in_occurrence_order() {
        let sql = sqlx::AssertSqlSafe("SELECT a FROM t WHERE b = $2 AND c IN ($1, $2) AND d = '$' AND é = $3");
        let (sql, args) = sqlite_positional(sql, vec![Arg::from(1), Arg::from("two"), Arg::Int(None)]);
        assert_eq!(sql.0, "SELECT a FROM t WHERE b = ? AND c IN (?, ?) AND d = '$' AND é = ?");
        let shown: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        assert_eq!(shown, ["Text(Some(\"two\"))", "Int(Some(1))", "Text(Some(\"two\"))", "Int(None)"]);
    }
}
