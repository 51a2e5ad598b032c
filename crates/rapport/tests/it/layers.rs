//! The crates' layering, read from their manifests: each of ours depends
//! only on crates below it, the store on no HTTP, provider or mail crate,
//! the engine on no HTTP server; and the channels never name the store.
//! The compiler refuses an upward `use`; this refuses the manifest line
//! that would allow one.

use std::path::Path;

/// Our crates bottom to top, with the crates of ours each may use.
const LAYERS: [(&str, &[&str]); 9] = [
    ("domain", &[]),
    ("hl7", &[]),
    ("secret", &[]),
    ("store", &["rapport-domain", "rapport-secret"]),
    ("engine", &["rapport-domain", "rapport-secret", "rapport-store"]),
    ("interop", &["rapport-domain", "rapport-hl7", "rapport-store", "rapport-engine"]),
    ("http", &["rapport-domain", "rapport-secret", "rapport-store", "rapport-engine", "rapport-interop"]),
    ("simulators", &["rapport-secret", "rapport-store", "rapport-engine"]),
    (
        "rapport",
        &[
            "rapport-domain",
            "rapport-hl7",
            "rapport-secret",
            "rapport-store",
            "rapport-engine",
            "rapport-interop",
            "rapport-http",
            "rapport-simulators",
        ],
    ),
];

/// The names under `[dependencies]` (not dev or build) of a manifest.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['.', '=', ' ']).next().unwrap_or_default();
            names.push(name.to_owned());
        }
    }
    names
}

fn manifest(krate: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(krate).join("Cargo.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn each_crate_uses_only_the_crates_below_it() {
    for (krate, allowed) in LAYERS {
        let ours: Vec<_> = dependencies(&manifest(krate)).into_iter().filter(|d| d.starts_with("rapport")).collect();
        let upward: Vec<_> = ours.iter().filter(|d| !allowed.contains(&d.as_str())).collect();
        assert!(upward.is_empty(), "rapport-{krate} depends on {upward:?}, which are not below it");
    }
}

#[test]
fn the_store_and_the_engine_stay_off_the_wire() {
    let store = dependencies(&manifest("store"));
    for outside in ["axum", "reqwest", "lettre", "tokio-rustls", "rustls"] {
        assert!(!store.iter().any(|d| d == outside), "rapport-store depends on {outside}");
    }
    let engine = dependencies(&manifest("engine"));
    assert!(!engine.iter().any(|d| d == "axum"), "rapport-engine depends on axum");
    assert!(engine.iter().any(|d| d == "rapport-store"), "the manifest reader sees the engine's dependencies");
}

#[test]
fn the_channels_send_and_keep_nothing() {
    // What the log channel and web push need comes in through their traits
    // (`Outbox`, `Subscribers`), implemented by the engine over the store.
    let channels = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/src/channels");
    let mut read = 0;
    for entry in std::fs::read_dir(&channels).expect("the channels") {
        let path = entry.expect("a channel").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a channel's source");
            assert!(!text.contains("rapport_store"), "{} names the store", path.display());
            read += 1;
        }
    }
    assert!(read >= 6, "the channels were read: {read}");
}
