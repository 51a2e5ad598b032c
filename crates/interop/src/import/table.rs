//! Reading a CSV file as named columns: header normalisation, aliases,
//! UTF-8 checks and row lengths, with errors that carry line and column.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use super::ImportError;

/// One bad row: where, and why. The reason never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Which columns a file may have.
pub struct ColumnSpec {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// (alias, canonical)
    pub aliases: &'static [(&'static str, &'static str)],
}

/// `First Name` → `first_name`.
fn normalise(header: &str) -> String {
    header.trim().trim_start_matches('\u{feff}').to_lowercase().replace([' ', '-'], "_")
}

/// A CSV reader whose columns are known by canonical name.
pub struct Table<R: Read> {
    reader: csv::Reader<R>,
    positions: HashMap<&'static str, usize>,
    width: usize,
    record: csv::ByteRecord,
}

/// One data row, its fields checked to be UTF-8.
pub struct TableRow<'a> {
    pub line: u64,
    fields: Vec<&'a str>,
    positions: &'a HashMap<&'static str, usize>,
}

impl<'a> TableRow<'a> {
    /// The trimmed value of `column`, `None` when absent or empty.
    pub fn get(&self, column: &str) -> Option<&'a str> {
        let value = self.fields.get(*self.positions.get(column)?)?.trim();
        (!value.is_empty()).then_some(value)
    }

    pub fn error(&self, column: &str, reason: impl fmt::Display) -> RowError {
        RowError { line: self.line, column: Some(column.to_owned()), reason: reason.to_string() }
    }
}

impl<R: Read> Table<R> {
    pub fn open(input: R, spec: &ColumnSpec) -> Result<Self, ImportError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(input);
        let headers = reader.byte_headers().map_err(|e| ImportError::Read(e.to_string()))?.clone();
        let mut positions = HashMap::new();
        for (i, raw) in headers.iter().enumerate() {
            let text = std::str::from_utf8(raw)
                .map_err(|_| ImportError::Header(format!("column {} of the header is not UTF-8 text", i + 1)))?;
            let name = normalise(text);
            let canonical = spec
                .required
                .iter()
                .chain(spec.optional)
                .find(|c| **c == name)
                .copied()
                .or_else(|| spec.aliases.iter().find(|(alias, _)| *alias == name).map(|(_, c)| *c))
                .ok_or_else(|| {
                    let known: Vec<&str> = spec.required.iter().chain(spec.optional).copied().collect();
                    ImportError::Header(format!(
                        "unknown column `{name}` (column {}); known columns: {}",
                        i + 1,
                        known.join(", ")
                    ))
                })?;
            if positions.insert(canonical, i).is_some() {
                return Err(ImportError::Header(format!("column `{canonical}` appears more than once")));
            }
        }
        if let Some(missing) = spec.required.iter().find(|c| !positions.contains_key(*c)) {
            return Err(ImportError::Header(format!("required column `{missing}` is missing")));
        }
        Ok(Self { reader, positions, width: headers.len(), record: csv::ByteRecord::new() })
    }

    /// The next row, a row-level error, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<TableRow<'_>, RowError>> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Some(Err(RowError { line, column: None, reason: "the row is not valid CSV".into() }));
            }
        }
        let line = self.record.position().map_or(0, |p| p.line());
        if self.record.len() != self.width {
            let reason = format!(
                "has {} fields but the header has {} (a truncated or misquoted line?)",
                self.record.len(),
                self.width
            );
            return Some(Err(RowError { line, column: None, reason }));
        }
        let mut fields = Vec::with_capacity(self.width);
        for (i, raw) in self.record.iter().enumerate() {
            match std::str::from_utf8(raw) {
                Ok(text) => fields.push(text),
                Err(_) => {
                    let column = self.positions.iter().find(|(_, p)| **p == i).map(|(c, _)| (*c).to_owned());
                    return Some(Err(RowError { line, column, reason: "is not valid UTF-8 text".into() }));
                }
            }
        }
        Some(Ok(TableRow { line, fields, positions: &self.positions }))
    }
}
