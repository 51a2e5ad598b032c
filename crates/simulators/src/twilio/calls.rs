//! The simulator's Calls resource: create (with the same faults as
//! messages) and list. A created call is "answered" at once: the simulator
//! fetches its TwiML from `Url` (signed, as Twilio does), hears every
//! `<Say>`, presses the keys the test queued for that number at the
//! `<Gather>` and hears the answer, then reports `completed` to the status
//! callback. A number marked unknown fails (`failed`) without an answer.

use super::{Answer, Fault, TwilioSimulator, is_e164, new_sid, take_fault};

/// A call the simulator placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    /// Where its TwiML came from.
    pub url: String,
    pub status_callback: Option<String>,
    pub date_created: String,
    /// What the patient heard, each `<Say>` in order.
    pub heard: Vec<String>,
    /// The keys pressed at the prompt, if any.
    pub pressed: Option<String>,
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// What a TwiML document says: the `<Say>`s up to the end of its
/// `<Gather>` (all of them when there is none), those after it, and the
/// `<Gather>`'s action.
fn read_twiml(xml: &str) -> (Vec<String>, Vec<String>, Option<String>) {
    let gather_end = xml.find("</Gather>").unwrap_or(xml.len());
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut offset = 0;
    while let Some(start) = xml[offset..].find("<Say").map(|i| i + offset) {
        let (Some(open_end), Some(close)) = (xml[start..].find('>'), xml[start..].find("</Say>")) else { break };
        let text = unescape(&xml[start + open_end + 1..start + close]);
        if start < gather_end {
            before.push(text)
        } else {
            after.push(text)
        }
        offset = start + close + 6;
    }
    let action = xml.find("<Gather").and_then(|at| {
        let tag = &xml[at..at + xml[at..].find('>')?];
        let value = tag.split("action=\"").nth(1)?.split('"').next()?;
        Some(unescape(value))
    });
    (before, after, action)
}

impl TwilioSimulator {
    /// Every call placed so far, oldest first (as heard by now).
    pub fn calls(&self) -> Vec<SimCall> {
        self.state().calls.clone()
    }

    /// The patient at `number` presses `digits` at the next call's prompt.
    pub fn press_on_answer(&self, number: &str, digits: &str) {
        self.state().keypad.insert(number.into(), digits.into());
    }

    /// Creates a call, or fails as the next fault says; `None` drops the connection.
    pub(super) async fn create_call(&self, body: &str) -> Option<Answer> {
        let form: Vec<(String, String)> =
            form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (fault, call) = {
            let mut state = self.state();
            let fault = match take_fault(&mut state) {
                Ok(fault) => fault,
                Err(refusal) => return Some(refusal),
            };
            let (Some(to), Some(from), Some(url)) = (field("To"), field("From"), field("Url")) else {
                return Some(Answer::json(
                    400,
                    r#"{"code":21205,"message":"'To', 'From' and 'Url' are required","status":400}"#,
                ));
            };
            if !is_e164(&to) {
                return Some(Answer::json(400, r#"{"code":21211,"message":"Invalid 'To' Phone Number","status":400}"#));
            }
            let at = self.clock.now().to_zoned(jiff::tz::TimeZone::UTC);
            let call = SimCall {
                sid: new_sid("CA"),
                to,
                from,
                url,
                status_callback: field("StatusCallback"),
                date_created: jiff::fmt::rfc2822::to_string(&at).unwrap_or_default(),
                heard: Vec::new(),
                pressed: None,
            };
            state.calls.push(call.clone());
            (fault, call)
        };
        self.answer_later(&call);
        let resource = resource(&call).to_string();
        match fault {
            Some(Fault::DropAfterAccept) => None,
            Some(Fault::Slow(wait)) => {
                tokio::time::sleep(wait).await;
                Some(Answer::json(201, &resource))
            }
            _ => Some(Answer::json(201, &resource)),
        }
    }

    pub(super) fn list_calls(&self, query: &str) -> Answer {
        let to = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "To").map(|(_, v)| v.into_owned());
        let state = self.state();
        let calls: Vec<serde_json::Value> =
            state.calls.iter().rev().filter(|c| to.as_deref().is_none_or(|to| c.to == to)).map(resource).collect();
        Answer::json(200, &serde_json::json!({ "calls": calls, "page": 0 }).to_string())
    }

    /// The patient answers: the TwiML is fetched and heard, the keys pressed, the status reported.
    fn answer_later(&self, call: &SimCall) {
        let (sim, call) = (self.clone(), call.clone());
        tokio::spawn(async move {
            let (unknown, quiet, keys) = {
                let mut state = sim.state();
                (state.unknown.contains(&call.to), state.quiet, state.keypad.remove(&call.to))
            };
            let mut params = vec![
                ("AccountSid".to_owned(), sim.account_sid.clone()),
                ("ApiVersion".into(), "2010-04-01".into()),
                ("CallSid".into(), call.sid.clone()),
                ("Direction".into(), "outbound-api".into()),
                ("From".into(), call.from.clone()),
                ("To".into(), call.to.clone()),
            ];
            let outcome = if unknown {
                "failed"
            } else {
                let mut answering = params.clone();
                answering.push(("CallStatus".into(), "in-progress".into()));
                let (mut heard, rest, action) = match sim.fetch_signed(&call.url, &answering).await {
                    Some(xml) => read_twiml(&xml),
                    None => (Vec::new(), Vec::new(), None),
                };
                // A key pressed at the prompt leaves for the action; silence goes on.
                match (action, &keys) {
                    (Some(action), Some(keys)) => {
                        let mut pressing = answering.clone();
                        pressing.push(("Digits".into(), keys.clone()));
                        if let Some(xml) = sim.fetch_signed(&action, &pressing).await {
                            let (inside, after, _) = read_twiml(&xml);
                            heard.extend(inside.into_iter().chain(after));
                        }
                    }
                    _ => heard.extend(rest),
                }
                if let Some(stored) = sim.state().calls.iter_mut().find(|c| c.sid == call.sid) {
                    stored.heard = heard;
                    stored.pressed = keys;
                }
                "completed"
            };
            if let (false, Some(url)) = (quiet, &call.status_callback) {
                params.push(("CallStatus".into(), outcome.into()));
                let _ = sim.post_signed(url, &params).await;
            }
        });
    }

    /// Posts a signed form to `url` and returns the body of a 2xx answer.
    async fn fetch_signed(&self, url: &str, params: &[(String, String)]) -> Option<String> {
        let response = self.signed(url, params).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.text().await.ok()
    }
}

fn resource(c: &SimCall) -> serde_json::Value {
    serde_json::json!({
        "sid": c.sid, "to": c.to, "from": c.from, "status": "queued", "date_created": c.date_created,
        "direction": "outbound-api", "api_version": "2010-04-01",
    })
}

#[cfg(test)]
mod tests {
    use super::read_twiml;

    #[test]
    fn twiml_is_heard_say_by_say() {
        let xml = r#"<Response><Gather action="http://r/k?a=1&amp;b=2" method="POST"><Say language="en-US">A &amp; B</Say><Say>Press 1</Say></Gather><Say>Bye</Say></Response>"#;
        let (said, after, action) = read_twiml(xml);
        assert_eq!((said, after), (vec!["A & B".to_owned(), "Press 1".to_owned()], vec!["Bye".to_owned()]));
        assert_eq!(action.as_deref(), Some("http://r/k?a=1&b=2"));
    }
}
