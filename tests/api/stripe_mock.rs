//! A local HTTP server speaking Stripe's wire format (form-encoded
//! requests, Stripe JSON objects and error bodies, `Idempotency-Key`
//! replay), reached by the real async-stripe client through
//! `payments.stripe_api_base`. Tests script failures per operation and
//! play the app's part (confirming a PaymentIntent) and Stripe's
//! (signed webhook events).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_kilat_mock";
pub const WEBHOOK_SECRET: &str = "whsec_kilat_mock";
/// Stripe's test card that is always declined.
pub const DECLINED_CARD: &str = "pm_card_chargeDeclined";
pub const GOOD_CARD: &str = "pm_card_visa";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub op: String,
    pub path: String,
    pub form: HashMap<String, String>,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct State {
    intents: HashMap<String, Value>,
    replies: HashMap<(String, String), (u16, Value)>,
    requests: Vec<Recorded>,
    failures: HashMap<String, VecDeque<u16>>,
    lost: HashMap<String, usize>,
    /// (id, destination, amount) of every transfer made
    transfers: Vec<(String, String, i64)>,
    next: u64,
}

#[derive(Clone)]
pub struct StripeMock {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `a=1&metadata%5Bx%5D=y` → {"a": "1", "metadata[x]": "y"}
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""), 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    std::str::from_utf8(body)
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> (u16, Value) {
    let mut e = json!({"type": kind, "message": message});
    if !code.is_empty() {
        e["code"] = json!(code);
    }
    if code == "card_declined" {
        e["decline_code"] = json!("generic_decline");
    }
    (status, json!({"error": e}))
}

/// A connected account Stripe refuses to pay (closed).
pub const CLOSED_ACCOUNT: &str = "acct_closed";

impl State {
    fn transfer(&mut self, form: &HashMap<String, String>) -> (u16, Value) {
        let Some(amount) = form.get("amount").and_then(|a| a.parse::<i64>().ok()) else {
            return error(400, "invalid_request_error", "parameter_missing", "Missing required param: amount.");
        };
        let destination = form.get("destination").cloned().unwrap_or_default();
        if destination == CLOSED_ACCOUNT {
            return error(400, "invalid_request_error", "account_invalid", "The destination account is closed.");
        }
        let id = self.id("tr");
        self.transfers.push((id.clone(), destination.clone(), amount));
        let metadata: HashMap<String, String> = form
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')).map(|k| (k.to_owned(), v.clone()))
            })
            .collect();
        (
            200,
            json!({"id": id, "object": "transfer", "amount": amount, "amount_reversed": 0, "balance_transaction": null,
                   "created": now(), "currency": form.get("currency").cloned().unwrap_or_default(),
                   "description": form.get("description"), "destination": destination, "destination_payment": null,
                   "livemode": false, "metadata": metadata,
                   "reversals": {"object": "list", "data": [], "has_more": false, "url": format!("/v1/transfers/{id}/reversals")},
                   "reversed": false, "source_transaction": null, "source_type": "card", "transfer_group": null}),
        )
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_mock{:08}", self.next)
    }

    fn create(&mut self, form: &HashMap<String, String>) -> (u16, Value) {
        let Some(amount) = form.get("amount").and_then(|a| a.parse::<i64>().ok()) else {
            return error(400, "invalid_request_error", "parameter_missing", "Missing required param: amount.");
        };
        let id = self.id("pi");
        let metadata: HashMap<String, String> = form
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')).map(|k| (k.to_owned(), v.clone()))
            })
            .collect();
        let mut pi = json!({
            "id": id, "object": "payment_intent", "amount": amount, "amount_capturable": 0, "amount_received": 0,
            "capture_method": form.get("capture_method").cloned().unwrap_or_else(|| "automatic".into()),
            "confirmation_method": "automatic", "created": now(),
            "currency": form.get("currency").cloned().unwrap_or_default(), "livemode": false, "metadata": metadata,
            "payment_method_types": ["card"], "status": "requires_payment_method",
            "client_secret": format!("{id}_secret_mock"), "description": form.get("description"),
            "receipt_email": form.get("receipt_email"), "payment_method": null, "last_payment_error": null,
        });
        let confirm = form.get("confirm").map(String::as_str) == Some("true");
        if confirm && let Some(pm) = form.get("payment_method") {
            if pm == DECLINED_CARD {
                pi["last_payment_error"] = json!({"type": "card_error", "code": "card_declined",
                    "message": "Your card was declined."});
                self.intents.insert(id, pi);
                return error(402, "card_error", "card_declined", "Your card was declined.");
            }
            pi["payment_method"] = json!(pm);
            pi["status"] = json!("requires_capture");
            pi["amount_capturable"] = json!(amount);
        }
        self.intents.insert(id, pi.clone());
        (200, pi)
    }

    fn transition(&mut self, op: &str, id: &str) -> (u16, Value) {
        let Some(pi) = self.intents.get_mut(id) else {
            return error(404, "invalid_request_error", "resource_missing", &format!("No such payment_intent: '{id}'"));
        };
        let status = pi["status"].as_str().unwrap_or("").to_owned();
        match (op, status.as_str()) {
            ("retrieve", _) => {}
            ("capture", "requires_capture") => {
                pi["status"] = json!("succeeded");
                pi["amount_received"] = pi["amount"].clone();
                pi["amount_capturable"] = json!(0);
            }
            (
                "cancel",
                "requires_payment_method" | "requires_capture" | "requires_confirmation" | "requires_action",
            ) => {
                pi["status"] = json!("canceled");
                pi["canceled_at"] = json!(now());
                pi["amount_capturable"] = json!(0);
            }
            _ => {
                return error(
                    400,
                    "invalid_request_error",
                    "payment_intent_unexpected_state",
                    &format!("You cannot {op} this PaymentIntent because it has a status of {status}."),
                );
            }
        }
        (200, pi.clone())
    }

    fn refund(&mut self, form: &HashMap<String, String>) -> (u16, Value) {
        let pi_id = form.get("payment_intent").cloned().unwrap_or_default();
        let Some(pi) = self.intents.get_mut(&pi_id) else {
            return error(400, "invalid_request_error", "resource_missing", "No such payment_intent");
        };
        if pi["status"] != "succeeded" {
            return error(400, "invalid_request_error", "charge_not_captured", "This PaymentIntent was not captured");
        }
        if pi["refunded"] == json!(true) {
            return error(400, "invalid_request_error", "charge_already_refunded", "Charge has already been refunded.");
        }
        pi["refunded"] = json!(true);
        let (amount, currency) = (pi["amount"].clone(), pi["currency"].clone());
        let id = self.id("re");
        (
            200,
            json!({"id": id, "object": "refund", "amount": amount, "created": now(), "currency": currency,
                     "payment_intent": pi_id, "status": "succeeded", "metadata": {}}),
        )
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let path = req.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let method = req.method().as_str().to_owned();
    let (op, id) = match (method.as_str(), segments.as_slice()) {
        ("POST", ["payment_intents"]) => ("create", String::new()),
        ("GET", ["payment_intents", id]) => ("retrieve", (*id).to_owned()),
        ("POST", ["payment_intents", id, "capture"]) => ("capture", (*id).to_owned()),
        ("POST", ["payment_intents", id, "cancel"]) => ("cancel", (*id).to_owned()),
        ("POST", ["refunds"]) => ("refund", String::new()),
        ("POST", ["transfers"]) => ("transfer", String::new()),
        _ => ("unknown", String::new()),
    };
    let form = parse_form(&body);
    let key = req.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let auth_ok = req.headers().get("Authorization").and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {SECRET_KEY}").as_str());
    let (status, reply) = {
        let mut s = state.lock().unwrap();
        s.requests.push(Recorded {
            op: op.to_owned(),
            path: path.clone(),
            form: form.clone(),
            idempotency_key: key.clone(),
        });
        let cached = key.as_ref().and_then(|k| s.replies.get(&(op.to_owned(), k.clone())).cloned());
        if !auth_ok {
            error(401, "invalid_request_error", "", "Invalid API Key provided")
        } else if let Some(status) = s.failures.get_mut(op).and_then(VecDeque::pop_front) {
            // like an overloaded Stripe: nothing executed, nothing saved for the key
            error(status, "api_error", "", "An unexpected error occurred (injected by the test)")
        } else {
            let reply = match cached {
                Some(cached) => cached,
                None => {
                    let reply = match op {
                        "create" => s.create(&form),
                        "retrieve" | "capture" | "cancel" => s.transition(op, &id),
                        "refund" => s.refund(&form),
                        "transfer" => s.transfer(&form),
                        _ => error(
                            404,
                            "invalid_request_error",
                            "",
                            &format!("Unrecognized request URL ({method}: {path})"),
                        ),
                    };
                    if let Some(k) = &key
                        && reply.0 < 500
                        && op != "retrieve"
                    {
                        s.replies.insert((op.to_owned(), k.clone()), reply.clone());
                    }
                    reply
                }
            };
            match s.lost.get_mut(op) {
                // done (and saved for the key), but the answer never arrives
                Some(n) if *n > 0 => {
                    *n -= 1;
                    error(500, "api_error", "", "connection reset (injected by the test)")
                }
                _ => reply,
            }
        }
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("Request-Id", "req_mock"))
        .json(reply)
}

impl StripeMock {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(handle)))
            .workers(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Self { url: format!("http://127.0.0.1:{port}/"), state }
    }

    /// The next `times` requests of `op` (create, capture, cancel, refund)
    /// answer `status` without doing anything.
    pub fn fail(&self, op: &str, status: u16, times: usize) {
        self.state
            .lock()
            .unwrap()
            .failures
            .entry(op.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(status, times));
    }

    /// The next `times` requests of `op` are carried out (and saved for
    /// their idempotency key) but their answers are lost.
    pub fn lose_answers(&self, op: &str, times: usize) {
        *self.state.lock().unwrap().lost.entry(op.to_owned()).or_default() += times;
    }

    /// (id, destination, amount) of the transfers made.
    pub fn transfers(&self) -> Vec<(String, String, i64)> {
        self.state.lock().unwrap().transfers.clone()
    }

    pub fn intents(&self) -> Vec<Value> {
        self.state.lock().unwrap().intents.values().cloned().collect()
    }

    pub fn requests(&self, op: &str) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.iter().filter(|r| r.op == op).cloned().collect()
    }

    pub fn intent(&self, id: &str) -> Value {
        self.state.lock().unwrap().intents.get(id).cloned().unwrap_or(Value::Null)
    }

    /// The app confirms the PaymentIntent with a good card (Stripe.js /
    /// the mobile SDK, with the client secret): it now awaits capture.
    pub fn confirm_in_app(&self, id: &str) -> Value {
        let mut s = self.state.lock().unwrap();
        let pi = s.intents.get_mut(id).expect("known intent");
        pi["status"] = json!("requires_capture");
        pi["amount_capturable"] = pi["amount"].clone();
        pi["payment_method"] = json!(GOOD_CARD);
        pi.clone()
    }

    /// A Stripe event around `object`, as its webhook delivers it.
    pub fn event(&self, event_type: &str, object: Value) -> String {
        let id = self.state.lock().unwrap().id("evt");
        json!({"id": id, "object": "event", "api_version": "2026-09-30.endive", "created": now(),
               "data": {"object": object}, "livemode": false, "pending_webhooks": 1,
               "request": {"id": null, "idempotency_key": null}, "type": event_type})
        .to_string()
    }

    /// `Stripe-Signature` for `payload`, signed now (or at `at`).
    pub fn sign(payload: &str, secret: &str, at: Option<i64>) -> String {
        stripe_webhook::Webhook::generate_test_header(payload, secret, at)
    }
}
