//! The real `rapport` binary: serve the demo, talk HTTP over TCP, stop on
//! SIGTERM, import from the command line. Logs are checked for patient data.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_rapport");

/// One HTTP/1.1 exchange over a fresh connection: (status, head, JSON body).
async fn http_exchange(address: &str, request: String) -> (u16, String, Value) {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, head.to_owned(), serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A GET with a bearer token: (status, body).
async fn http_get(address: &str, token: &str, path: &str) -> (u16, Value) {
    http_get_with(address, &format!("Authorization: Bearer {token}"), path).await
}

/// A GET with one credential header (`Authorization: …` or `Cookie: …`): (status, body).
async fn http_get_with(address: &str, credential: &str, path: &str) -> (u16, Value) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{credential}\r\nConnection: close\r\n\r\n");
    let (status, _, body) = http_exchange(address, request).await;
    (status, body)
}

/// A POST of JSON: (status, head, body).
async fn http_post(address: &str, path: &str, json: &str) -> (u16, String, Value) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    http_exchange(address, request).await
}

/// A running server; killed if a test fails before stopping it.
struct Running {
    child: Child,
    address: String,
    /// The demo's integration token, as printed.
    token: String,
    /// Kept open: the server still prints after its first line.
    _stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Starts `rapport serve --demo` on port 0 and returns it with its address.
fn start_demo(data_dir: &std::path::Path) -> Running {
    let child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RAPPORT_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rapport");
    let mut running = Running { child, address: String::new(), token: String::new(), _stdout: None };
    let mut stdout = BufReader::new(running.child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stdout.read_line(&mut line).expect("read stdout") > 0, "rapport exited before it listened");
        if let Some(token) = line.trim().strip_prefix("integration token: ") {
            running.token = token.to_owned();
        }
        if let Some(rest) = line.trim().strip_prefix("Rapport is running on SQLite at http://") {
            running.address = rest.trim_end_matches('/').to_owned();
            running._stdout = Some(stdout);
            return running;
        }
    }
}

#[tokio::test]
async fn the_demo_serves_over_tcp_stops_on_sigterm_and_logs_no_patient_data() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = start_demo(dir.path());
    let (address, token) = (server.address.clone(), server.token.clone());
    assert!(token.starts_with("rpt_"), "the demo prints its integration token");
    assert_eq!(http_get(&address, "", "/readyz").await.0, 200);
    assert_eq!(http_get(&address, "rpt_wrong", "/api/v1/organizations").await.0, 401);
    let (status, orgs) = http_get(&address, &token, "/api/v1/organizations").await;
    assert_eq!(status, 200);
    let org = orgs["items"][0]["id"].as_str().expect("the demo organization").to_owned();
    let (_, page) = http_get(&address, &token, &format!("/api/v1/organizations/{org}/patients?limit=200")).await;
    let patients = page["items"].as_array().expect("patients").clone();
    assert_eq!(patients.len(), 200);
    // Searches put names and phones in query strings: the logs must not repeat them.
    for patient in patients.iter().take(20) {
        let name = patient["family_name"].as_str().expect("name");
        let phone = patient["phones"][0]["number"].as_str().expect("phone").trim_start_matches('+');
        let (status, _) = http_get(
            &address,
            &token,
            &format!("/api/v1/organizations/{org}/patients?name={}&phone=%2B{phone}", urlish(name)),
        )
        .await;
        assert_eq!(status, 200);
    }
    // Staff sign in over the wire: the passwords, right or wrong, stay out of the logs.
    let wrong = r#"{"email":"frontdesk@riverbend.example","password":"a wrong guess of a password"}"#;
    assert_eq!(http_post(&address, "/api/v1/auth/login", wrong).await.0, 401);
    let right = r#"{"email":"frontdesk@riverbend.example","password":"rapport-demo-front-desk"}"#;
    let (status, head, me) = http_post(&address, "/api/v1/auth/login", right).await;
    assert_eq!(status, 200, "{me}");
    assert!(head.contains("__Host-rapport_session="), "{head}");
    assert_eq!(me["session"]["client_address"], "127.0.0.1", "the peer address is recorded");
    let (_, appointments) =
        http_get(&address, &token, &format!("/api/v1/organizations/{org}/appointments?limit=5&status=booked")).await;
    assert_eq!(appointments["items"].as_array().map(Vec::len), Some(5));
    // The demo's visit reminders: a confirmation for a visit booked inside the
    // reminder window is due now, and the dispatcher takes it up at once
    // (sends it to the outbox, or defers it to the patient's morning).
    let session = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .expect("the session cookie")
        .to_owned();
    let cookie = format!("Cookie: {session}");
    let path = format!("/api/v1/organizations/{org}/messages?template=appointment_booked&limit=200");
    let (status, messages) = http_get_with(&address, &cookie, &path).await;
    assert_eq!(status, 200, "{messages}");
    let first = messages["items"][0]["id"].as_str().expect("the demo planned confirmations").to_owned();
    let mut decided = false;
    for _ in 0..100 {
        let (_, message) =
            http_get_with(&address, &cookie, &format!("/api/v1/organizations/{org}/messages/{first}")).await;
        let trace: Vec<String> =
            message["trace"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(str::to_owned)).collect();
        if trace.iter().any(|l| l.contains("sent by") || l.contains("deferred to") || l.contains("suppressed")) {
            decided = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(decided, "the dispatcher sent or deferred the demo's reminder");
    // A patient texts the demo through the simulator's signature: free text
    // goes to staff (the answers themselves are tested in `answers`).
    let phone = patients[0]["phones"][0]["number"].as_str().expect("a phone").to_owned();
    let tasks_path = format!("/api/v1/organizations/{org}/tasks?kind=reply_to_read");
    let (_, seeded) = http_get(&address, &token, &tasks_path).await;
    let seeded = seeded["items"].as_array().map(Vec::len).expect("the demo's texts to read");
    let texted = Command::new(BIN)
        .args([
            "demo-text",
            "--url",
            &format!("http://{address}"),
            "--from",
            &phone,
            "--body",
            "running late",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("run demo-text");
    let said = String::from_utf8_lossy(&texted.stdout);
    assert!(texted.status.success(), "{said} {}", String::from_utf8_lossy(&texted.stderr));
    assert!(said.trim().ends_with(": to_read"), "{said}");
    let (_, tasks) = http_get(&address, &token, &tasks_path).await;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(seeded + 1), "one more text to read: {tasks}");

    let terminated = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill");
    assert!(terminated.success());
    let exit = server.child.wait().expect("wait");
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    let mut logs = String::new();
    server.child.stderr.take().expect("stderr").read_to_string(&mut logs).expect("logs");
    assert!(logs.contains("route=/api/v1/organizations/{org}/patients"), "request lines are logged: {logs}");
    for secret in ["a wrong guess of a password", "rapport-demo-front-desk", "rapport-demo-administrator"] {
        assert!(!logs.contains(secret), "the logs contain a password");
    }
    for patient in &patients {
        for field in
            [&patient["given_name"], &patient["family_name"], &patient["birth_date"], &patient["phones"][0]["number"]]
        {
            let value = field.as_str().expect("text");
            assert!(!logs.contains(value), "the logs contain patient data");
        }
        if let Some(email) = patient["emails"][0].as_str() {
            assert!(!logs.contains(email), "the logs contain an email address");
        }
    }
}

/// Percent-encodes what a name may hold beyond letters.
fn urlish(name: &str) -> String {
    name.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[test]
fn import_from_the_command_line_reports_rows_and_exit_status() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let run = |args: &[&str]| Command::new(BIN).args(args).arg("--data-dir").arg(&data).output().expect("run rapport");
    let migrate = run(&["migrate"]);
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let csv = dir.path().join("patients.csv");
    std::fs::write(&csv, "mrn,given_name,family_name\nM1,Ann,Lee\n").expect("write");
    let path = csv.to_str().expect("utf-8 path");
    let no_org = run(&["import", "patients", path]);
    assert!(!no_org.status.success());
    assert!(
        String::from_utf8_lossy(&no_org.stderr).contains("--organization"),
        "{}",
        String::from_utf8_lossy(&no_org.stderr)
    );
}

#[test]
fn a_demo_database_is_not_served_beyond_loopback() {
    let dir = tempfile::tempdir().expect("dir");
    let output = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run rapport");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to listen") && stderr.contains("--allow-demo-on-network"), "{stderr}");
}

#[test]
fn the_operator_adds_the_first_administrator_and_verify_catches_an_edited_trail() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run rapport");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), stdin.as_bytes()).expect("write stdin");
        let output = child.wait_with_output().expect("wait");
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), output.stderr)
    };
    let (ok, org, _) = run(&["organization", "add", "--name", "Lakeside Clinic", "--time-zone", "America/Chicago"], "");
    assert!(ok);
    assert!(org.trim().parse::<uuid::Uuid>().is_ok(), "prints the new id: {org}");
    let add = ["user", "add", "--email", "ops@lakeside.example", "--name", "Olu Ops", "--role", "administrator"];
    let (ok, _, stderr) = run(&add, "short\n");
    assert!(!ok && String::from_utf8_lossy(&stderr).contains("at least 12"), "a weak password is refused");
    let (ok, out, _) = run(&add, "a long enough passphrase\n");
    assert!(ok && out.contains("second factor"), "{out}");
    let (_, listed, _) = run(&["user", "list"], "");
    assert!(listed.contains("administrator") && listed.contains("ops@lakeside.example"), "{listed}");
    assert!(run(&["user", "disable", "ops@lakeside.example"], "").0);
    let (ok, report, _) = run(&["audit", "verify"], "");
    assert!(ok && report.contains("3 events, intact"), "{report}");
    let (ok, pruned, _) = run(&["audit", "prune"], "");
    assert!(ok && pruned.contains("no event is older than 2190 days"), "{pruned}");

    let url = format!("sqlite://{}", data.join("rapport.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let db = rapport::store::Db::connect(&url, &Default::default()).await.expect("open");
        db.execute("DROP TRIGGER audit_events_no_update", vec![]).await.expect("drop the guard");
        db.execute("UPDATE audit_events SET action = 'staff.enable' WHERE seq = 3", vec![]).await.expect("tamper");
        db.close().await;
    });
    let (ok, report, _) = run(&["audit", "verify"], "");
    assert!(!ok, "a broken chain exits 1");
    assert!(report.contains("BROKEN") && report.contains("event 3: content does not match its hash"), "{report}");
}

#[test]
fn an_encrypted_backup_restores_whole_and_refuses_a_wrong_key_or_a_damaged_file() {
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("backup.key");
    std::fs::write(&key_file, "a backup passphrase of some length\n").expect("key");
    let run = |data: &std::path::Path, args: &[&str], key: &std::path::Path| {
        let output = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .env("RAPPORT_BACKUP_KEY_FILE", key)
            .stdin(Stdio::null())
            .output()
            .expect("run rapport");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    };
    let (source, target) = (dir.path().join("source"), dir.path().join("target"));
    assert!(
        run(&source, &["organization", "add", "--name", "Lakeside", "--time-zone", "America/Chicago"], &key_file).0
    );
    let backup = dir.path().join("rapport.backup");
    let path = backup.to_str().expect("utf-8");
    let (ok, text) = run(&source, &["backup", path], &key_file);
    assert!(ok, "{text}");
    let sealed = std::fs::read(&backup).expect("backup file");
    assert!(sealed.starts_with(b"RAPPORT-BACKUP"));
    assert!(!sealed.windows(8).any(|w| w == b"Lakeside"), "the backup is encrypted");

    let wrong_key = dir.path().join("wrong.key");
    std::fs::write(&wrong_key, "not the passphrase at all, no").expect("key");
    let (ok, text) = run(&target, &["restore", path], &wrong_key);
    assert!(!ok && text.contains("the key is wrong or the backup is damaged"), "{text}");
    let mut damaged = sealed.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x20;
    let damaged_path = dir.path().join("damaged.backup");
    std::fs::write(&damaged_path, damaged).expect("write");
    let (ok, text) = run(&target, &["restore", damaged_path.to_str().expect("utf-8")], &key_file);
    assert!(!ok && text.contains("damaged"), "{text}");
    assert!(!target.join("rapport.db").exists(), "a failed restore installs nothing");

    let (ok, text) = run(&target, &["restore", path], &key_file);
    assert!(ok, "{text}");
    let (_, listed) = run(&target, &["organization", "list"], &key_file);
    assert!(listed.contains("Lakeside"), "{listed}");
    let (ok, text) = run(&target, &["restore", path], &key_file);
    assert!(!ok && text.contains("--force"), "an existing database is not replaced silently: {text}");
    assert!(run(&target, &["restore", path, "--force"], &key_file).0);
}
