//! The docs stay true and readable: every path ARCHITECTURE.md names
//! exists, and no paragraph of the README, ARCHITECTURE.md or `docs/` runs
//! past the length a reader takes in at once.

use std::path::{Path, PathBuf};

/// The workspace's root, where the docs live.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Words that look like a path in the repository (`crates/…`, `docs/…`).
fn paths_named(text: &str) -> Vec<String> {
    const ROOTS: [&str; 4] = ["crates/", "docs/", "fuzz/", ".ci/"];
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut found = Vec::new();
    for (at, _) in text.char_indices() {
        let rest = &text[at..];
        let starts_word = text[..at].chars().next_back().is_none_or(|c| !is_path_char(c));
        if starts_word && ROOTS.iter().any(|root| rest.starts_with(root)) {
            let end = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
            found.push(rest[..end].trim_end_matches('.').to_owned());
        }
    }
    found
}

/// Prose paragraphs: blocks between blank lines, outside code fences and
/// tables. With `items_apart`, each list item counts on its own; without,
/// a list with no blank lines between its items is read as one block, as
/// a newcomer meets it.
fn paragraphs(text: &str, items_apart: bool) -> Vec<String> {
    let (mut out, mut current, mut fenced) = (Vec::new(), String::new(), false);
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let prose = !fenced && !line.trim_start().starts_with('|') && !line.starts_with('#');
        let numbered = line.trim_start().split_once(". ").is_some_and(|(n, _)| n.parse::<u32>().is_ok());
        let item = items_apart && (line.trim_start().starts_with("- ") || numbered);
        if line.trim().is_empty() || !prose || item {
            out.push(std::mem::take(&mut current));
        }
        if prose && !line.trim().is_empty() {
            current.push(' ');
            current.push_str(line);
        }
    }
    out.push(current);
    out.retain(|p| !p.trim().is_empty());
    out
}

#[test]
fn every_path_architecture_names_exists() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let named = paths_named(&text);
    assert!(named.len() > 10, "ARCHITECTURE.md names the code's places: {named:?}");
    let missing: Vec<_> = named.iter().filter(|path| !root().join(path).exists()).collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:?}");
}

#[test]
fn the_path_check_sees_a_missing_path() {
    let named = paths_named("see `crates/nowhere/src/lib.rs` and docs/api.md.");
    assert_eq!(named, ["crates/nowhere/src/lib.rs", "docs/api.md"]);
    assert!(!root().join(&named[0]).exists());
}

#[test]
fn no_paragraph_runs_past_120_words() {
    // The front doors read block by block; the reference in docs/ item by item.
    let mut docs = vec![(root().join("README.md"), false), (root().join("ARCHITECTURE.md"), false)];
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let path = entry.expect("a docs entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push((path, true));
        }
    }
    let mut long = Vec::new();
    for (doc, items_apart) in &docs {
        let text = std::fs::read_to_string(doc).expect("a doc");
        for paragraph in paragraphs(&text, *items_apart) {
            let words = paragraph.split_whitespace().count();
            if words > 120 {
                let start: String = paragraph.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
                long.push(format!("{}: {words} words from \"{start}\"", doc.display()));
            }
        }
    }
    assert!(long.is_empty(), "paragraphs too long to read at once:\n{}", long.join("\n"));
}
