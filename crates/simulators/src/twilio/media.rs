//! The simulator's MMS media: what a test hosts is served, as Twilio serves
//! it, only to the account's credentials (HTTP basic auth); DELETE removes
//! it; a test can make the next requests fail.

use super::{Answer, TwilioSimulator, new_sid};

impl TwilioSimulator {
    /// Hosts an attachment; the answer is its link, as an inbound MMS carries it.
    pub fn host_media(&self, content_type: &str, bytes: Vec<u8>) -> String {
        let path =
            format!("/2010-04-01/Accounts/{}/Messages/{}/Media/{}", self.account_sid, new_sid("MM"), new_sid("ME"));
        self.state().media.insert(path.clone(), (content_type.to_owned(), bytes));
        format!("{}{path}", self.base_url())
    }

    /// Fails the next `times` media requests with a 500.
    pub fn fail_media(&self, times: usize) {
        self.state().media_faults = times;
    }

    /// Media requests received so far, refused ones included.
    pub fn media_requests(&self) -> usize {
        self.state().media_requests
    }

    /// A GET (the bytes) or DELETE of hosted media, the caller authorized.
    pub(super) fn media(&self, method: &str, path: &str) -> Answer {
        let mut state = self.state();
        if state.media_faults > 0 {
            state.media_faults -= 1;
            return Answer::json(500, r#"{"code":20500,"message":"Internal Server Error","status":500}"#);
        }
        let gone =
            || Answer::json(404, r#"{"code":20404,"message":"The requested resource was not found","status":404}"#);
        match method {
            "GET" => match state.media.get(path) {
                Some((content_type, bytes)) => Answer::bytes(content_type, bytes.clone()),
                None => gone(),
            },
            "DELETE" => match state.media.remove(path) {
                Some(_) => Answer { status: 204, ..Answer::bytes("application/json", Vec::new()) },
                None => gone(),
            },
            _ => Answer::json(405, r#"{"code":20004,"message":"Method not allowed","status":405}"#),
        }
    }
}
