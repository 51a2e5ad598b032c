//! A minimal W3C WebDriver client for the browser tests: ChromeDriver
//! started on a free port with Debian's Chromium, headless, desktop
//! notifications allowed; a session that navigates, finds, clicks, types,
//! runs script and takes screenshots. Nothing beyond what the tests use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// The W3C identifier of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium and its driver, if this machine has them (`RAPPORT_CHROMIUM`,
/// `RAPPORT_CHROMEDRIVER`, else Debian's paths). Under CI their absence
/// fails the test; elsewhere the test says why it skips.
pub fn browser_or_skip(test: &str) -> Option<(PathBuf, PathBuf)> {
    let chromium =
        std::env::var_os("RAPPORT_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let driver =
        std::env::var_os("RAPPORT_CHROMEDRIVER").map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CI needs Chromium and ChromeDriver (apt-get install chromium chromium-driver)"
    );
    eprintln!("SKIPPED {test}: no Chromium at {} or ChromeDriver at {}", chromium.display(), driver.display());
    None
}

/// A running ChromeDriver; stopped on drop.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start(driver: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Self { child, url: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(reply) = client.get(format!("{}/status", driver.url)).send().await
                && reply.status().is_success()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer within 10 s");
    }

    pub async fn session(&self, chromium: &Path) -> Session {
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1366,900", "--no-first-run"],
                "prefs": {"profile.default_content_setting_values.notifications": 1}
            }
        }}});
        let client = reqwest::Client::new();
        let reply: Value = client
            .post(format!("{}/session", self.url))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let id = reply["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {reply}")).to_owned();
        Session { client, base: format!("{}/session/{id}", self.url) }
    }
}

pub struct Session {
    client: reqwest::Client,
    base: String,
}

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        } else if method == reqwest::Method::POST {
            request = request.json(&json!({}));
        }
        let reply: Value = request.send().await.expect("webdriver call").json().await.expect("json");
        if let Some(error) = reply["value"]["error"].as_str() {
            panic!("webdriver {path}: {error}: {}", reply["value"]["message"]);
        }
        reply["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The first element the CSS selector finds, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let reply: Value = self
                .client
                .post(format!("{}/elements", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("find")
                .json()
                .await
                .expect("json");
            if let Some(first) = reply["value"].as_array().and_then(|a| a.first()) {
                return first[ELEMENT].as_str().expect("element id").to_owned();
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no element matches {css} within 10 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), None).await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({"text": text}))).await;
    }

    /// Sizes the window (a laptop's, a tablet's).
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height}))).await;
    }

    /// Presses Tab as a keyboard would (WebDriver actions), moving the focus.
    pub async fn press_tab(&self) {
        let keys = json!([{"type": "keyDown", "value": "\u{E004}"}, {"type": "keyUp", "value": "\u{E004}"}]);
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]});
        self.call(reqwest::Method::POST, "/actions", Some(actions)).await;
    }

    /// The page's accessibility problems (`a11y_audit.js`), each naming its element.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let problems = self.run(include_str!("a11y_audit.js")).await;
        problems.as_array().expect("a list").iter().map(|p| p.as_str().expect("text").to_owned()).collect()
    }

    pub async fn assert_accessible(&self, page: &str) {
        let problems = self.accessibility_problems().await;
        assert!(problems.is_empty(), "accessibility problems on {page}: {problems:?}");
    }

    pub async fn run(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Waits up to 10 s for `script` (an expression) to be true in the page.
    pub async fn wait_for(&self, what: &str, expression: &str) {
        let started = Instant::now();
        let script = format!("return Boolean({expression});");
        while self.run(&script).await != Value::Bool(true) {
            assert!(started.elapsed() < Duration::from_secs(10), "waited 10 s for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the window under `target/screenshots/`.
    pub async fn screenshot(&self, name: &str) {
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().expect("base64")).expect("png");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot");
    }

    pub async fn quit(self) {
        let _ = self.client.delete(&self.base).send().await;
    }
}
