//! Reading FHIR resources from a path: a bulk-data NDJSON file (one
//! resource a line), a JSON file holding a Bundle (its entries' resources,
//! with their `fullUrl`s) or one resource, or a directory of such files
//! (read in name order, not descending, leaving out a bulk export's
//! `log.ndjson`). A line or file that is not a
//! resource is reported where it is, and the rest go on.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ResourceError;
use crate::import::ImportError;

/// A resource and where it was read.
pub struct Found {
    pub file: String,
    /// Its line (NDJSON) or its entry's number (a Bundle), from 1.
    pub place: u64,
    pub resource_type: String,
    /// The Bundle entry's `fullUrl` (`urn:uuid:…` in transactions).
    pub full_url: Option<String>,
    pub resource: Value,
}

impl Found {
    pub fn error(&self, reason: impl Into<String>) -> ResourceError {
        let id = self.resource.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        ResourceError {
            file: self.file.clone(),
            place: self.place,
            resource_type: self.resource_type.clone(),
            id,
            reason: reason.into(),
        }
    }
}

/// The file a bulk export writes its events to, beside the resources.
const EXPORT_LOG: &str = "log.ndjson";

/// Every resource under `path`, and what could not be read as one.
pub fn read_path(path: &Path) -> Result<(Vec<Found>, Vec<ResourceError>), ImportError> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| ImportError::Read(format!("{}: {e}", path.display())))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("ndjson" | "json")))
            // A bulk export's log (its events, not resources) sits beside its files.
            .filter(|p| p.file_name().and_then(|n| n.to_str()) != Some(EXPORT_LOG))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut found = Vec::new();
    let mut failed = Vec::new();
    for file in files {
        let name = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
        let text = std::fs::read(&file).map_err(|e| ImportError::Read(format!("{}: {e}", file.display())))?;
        let text = String::from_utf8(text).map_err(|_| ImportError::Read(format!("{name} is not UTF-8")))?;
        let unreadable = |place: u64, reason: &str| ResourceError {
            file: name.clone(),
            place,
            resource_type: String::new(),
            id: String::new(),
            reason: reason.to_owned(),
        };
        if file.extension().and_then(|e| e.to_str()) == Some("ndjson") {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(resource) => match resource_type(&resource) {
                        Some(kind) => found.push(Found {
                            file: name.clone(),
                            place: i as u64 + 1,
                            resource_type: kind,
                            full_url: None,
                            resource,
                        }),
                        None => failed.push(unreadable(i as u64 + 1, "the line is not a FHIR resource")),
                    },
                    Err(_) => failed.push(unreadable(i as u64 + 1, "the line is not JSON")),
                }
            }
            continue;
        }
        let Ok(document) = serde_json::from_str::<Value>(&text) else {
            failed.push(unreadable(1, "the file is not JSON"));
            continue;
        };
        match resource_type(&document).as_deref() {
            Some("Bundle") => {
                let entries = document.get("entry").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                for (i, entry) in entries.iter().enumerate() {
                    let resource = entry.get("resource").cloned().unwrap_or(Value::Null);
                    match resource_type(&resource) {
                        Some(kind) => found.push(Found {
                            file: name.clone(),
                            place: i as u64 + 1,
                            resource_type: kind,
                            full_url: entry.get("fullUrl").and_then(Value::as_str).map(str::to_owned),
                            resource,
                        }),
                        None => failed.push(unreadable(i as u64 + 1, "the entry holds no FHIR resource")),
                    }
                }
            }
            Some(kind) => {
                let kind = kind.to_owned();
                found.push(Found { file: name, place: 1, resource_type: kind, full_url: None, resource: document });
            }
            None => failed.push(unreadable(1, "the file holds no FHIR resource")),
        }
    }
    Ok((found, failed))
}

fn resource_type(value: &Value) -> Option<String> {
    value.get("resourceType").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned)
}
