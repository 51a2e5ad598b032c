//! An SMTP server on a local port, for the tests and the demo: EHLO, AUTH
//! PLAIN, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT, as RFC
//! 5321 has them. It keeps what it received, and fails on purpose:
//!
//! - [`SmtpFault::Greylist`]: the next RCPT gets `451 4.7.1` (try later);
//! - [`SmtpFault::DropAfterData`]: the next message is taken whole, then
//!   the connection closes before the final `250` (the sender cannot know);
//! - [`SmtpFault::SlowAfterData`]: the next message's `250` comes late;
//! - addresses marked unknown get `550 5.1.1` at RCPT.
//!
//! With a certificate it speaks TLS as a submission server does: implicit
//! TLS from the first byte (port 465's way), or STARTTLS (587's), in which
//! case it refuses mail (`530 5.7.0`) until the client has upgraded.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::AbortOnDrop;

/// The account the simulator accepts (AUTH PLAIN).
pub const USERNAME: &str = "rapport";
pub const PASSWORD: &str = "simulated-smtp-password";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpFault {
    Greylist,
    DropAfterData,
    /// The next message is taken, and its `250` comes this much later.
    SlowAfterData(std::time::Duration),
}

/// A message the server took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEmail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed.
    pub data: String,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// How the simulator protects its sessions.
#[derive(Clone)]
pub enum SmtpTls {
    /// Plain text only.
    Off,
    /// TLS from the first byte.
    Implicit(TlsAcceptor),
    /// Plain, then STARTTLS (required before MAIL).
    StartTls(TlsAcceptor),
}

impl SimEmail {
    /// The value of a header (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut()
                && (line.starts_with(' ') || line.starts_with('\t'))
            {
                v.push_str(line.trim_start());
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }
}

#[derive(Default)]
struct State {
    emails: Vec<SimEmail>,
    faults: VecDeque<SmtpFault>,
    unknown: HashSet<String>,
}

/// A running SMTP server; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct SmtpSimulator {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _task: Arc<AbortOnDrop>,
}

impl SmtpSimulator {
    /// A plain-text server.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(SmtpTls::Off).await
    }

    pub async fn start_with(tls: SmtpTls) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, tls) = (shared.clone(), tls.clone());
                tokio::spawn(async move {
                    let _ = match tls {
                        SmtpTls::Off => session(stream, &state, true, false, false).await.map(drop),
                        SmtpTls::Implicit(acceptor) => match acceptor.accept(stream).await {
                            Ok(secure) => session(secure, &state, true, true, false).await.map(drop),
                            Err(error) => Err(error),
                        },
                        SmtpTls::StartTls(acceptor) => match session(stream, &state, true, false, true).await {
                            Ok(Some(plain)) => match acceptor.accept(plain).await {
                                Ok(secure) => session(secure, &state, false, true, false).await.map(drop),
                                Err(error) => Err(error),
                            },
                            other => other.map(drop),
                        },
                    };
                });
            }
        });
        Ok(Self { addr, state, _task: Arc::new(AbortOnDrop(task)) })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn push_fault(&self, fault: SmtpFault) {
        self.state().faults.push_back(fault);
    }

    pub fn mark_unknown(&self, address: &str) {
        self.state().unknown.insert(address.to_lowercase());
    }

    /// Every message taken so far, oldest first.
    pub fn emails(&self) -> Vec<SimEmail> {
        self.state().emails.clone()
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The address inside `MAIL FROM:<…>` / `RCPT TO:<…>`.
fn path_of(argument: &str) -> String {
    let inner = argument.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a);
    inner.unwrap_or(argument).trim().to_lowercase()
}

/// One SMTP session on `stream` (greeting first when `greet`). When
/// `offer_starttls`, it advertises STARTTLS, refuses mail until then, and
/// on STARTTLS returns the stream for the caller to upgrade.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    state: &Mutex<State>,
    greet: bool,
    secure: bool,
    offer_starttls: bool,
) -> std::io::Result<Option<S>> {
    let mut lines = BufReader::new(stream);
    if greet {
        lines.write_all(b"220 sim.rapport.test ESMTP ready\r\n").await?;
        lines.flush().await?;
    }
    let (mut from, mut to): (Option<String>, Vec<String>) = (None, Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let command = line.trim_end();
        let (verb, argument) = command.split_once([' ', ':']).unwrap_or((command, ""));
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "EHLO" if offer_starttls => "250-sim.rapport.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n".into(),
            "EHLO" => "250-sim.rapport.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n".into(),
            "STARTTLS" if offer_starttls => {
                lines.write_all(b"220 2.0.0 ready to start TLS\r\n").await?;
                lines.flush().await?;
                return Ok(Some(lines.into_inner()));
            }
            "AUTH" | "MAIL" if offer_starttls => "530 5.7.0 must issue a STARTTLS command first\r\n".into(),
            "HELO" => "250 sim.rapport.test\r\n".into(),
            "AUTH" => {
                let given = argument.trim().strip_prefix("PLAIN ").unwrap_or_default();
                let expected = base64::engine::general_purpose::STANDARD.encode(format!("\0{USERNAME}\0{PASSWORD}"));
                if given == expected { "235 2.7.0 accepted\r\n" } else { "535 5.7.8 bad credentials\r\n" }.into()
            }
            "MAIL" => {
                from = Some(path_of(argument));
                to.clear();
                "250 2.1.0 ok\r\n".into()
            }
            "RCPT" => {
                let address = path_of(argument);
                let mut s = lock(state);
                if s.faults.front() == Some(&SmtpFault::Greylist) {
                    s.faults.pop_front();
                    "451 4.7.1 greylisted, try again later\r\n".into()
                } else if s.unknown.contains(&address) {
                    "550 5.1.1 no such mailbox\r\n".into()
                } else {
                    to.push(address);
                    "250 2.1.5 ok\r\n".into()
                }
            }
            "DATA" if from.is_some() && !to.is_empty() => {
                lines.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                lines.flush().await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(None);
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                }
                let email =
                    SimEmail { from: from.take().unwrap_or_default(), to: std::mem::take(&mut to), data, tls: secure };
                let fault = {
                    let mut s = lock(state);
                    s.emails.push(email);
                    match s.faults.front() {
                        Some(SmtpFault::DropAfterData | SmtpFault::SlowAfterData(_)) => s.faults.pop_front(),
                        _ => None,
                    }
                };
                match fault {
                    // Taken, but the sender never hears so.
                    Some(SmtpFault::DropAfterData) => return Ok(None),
                    Some(SmtpFault::SlowAfterData(wait)) => tokio::time::sleep(wait).await,
                    _ => {}
                }
                "250 2.0.0 queued\r\n".into()
            }
            "DATA" => "503 5.5.1 need MAIL and RCPT first\r\n".into(),
            "RSET" => {
                (from, to) = (None, Vec::new());
                "250 2.0.0 ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 ok\r\n".into(),
            "QUIT" => {
                lines.write_all(b"221 2.0.0 bye\r\n").await?;
                lines.flush().await?;
                return Ok(None);
            }
            _ => "502 5.5.2 command not recognised\r\n".into(),
        };
        lines.write_all(reply.as_bytes()).await?;
        lines.flush().await?;
    }
}
