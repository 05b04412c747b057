//! Typed requests for the booking flow, so a test says what it does
//! (`app.accept(&runner, &bid)`) rather than how the route is spelled.

use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, TestResponse};

impl TestApp {
    /// `POST /bookings` as `owner`.
    pub async fn create_booking(&self, owner: &Session, body: &Value) -> TestResponse {
        self.post("/api/v1/bookings", Some(&owner.access), body).await
    }

    /// `GET /bookings/{id}` as `who`.
    pub async fn booking(&self, who: &Session, id: &str) -> TestResponse {
        self.get(&format!("/api/v1/bookings/{id}"), Some(&who.access)).await
    }

    /// `GET /bookings[?status=…]` as `who` (a runner's `requested` is the open pool).
    pub async fn bookings(&self, who: &Session, status: Option<&str>) -> TestResponse {
        match status {
            Some(status) => self.get(&format!("/api/v1/bookings?status={status}"), Some(&who.access)).await,
            None => self.get("/api/v1/bookings", Some(&who.access)).await,
        }
    }

    async fn step(&self, who: &Session, id: &str, step: &str, body: &Value) -> TestResponse {
        self.post(&format!("/api/v1/bookings/{id}/{step}"), Some(&who.access), body).await
    }

    pub async fn accept(&self, runner: &Session, id: &str) -> TestResponse {
        self.step(runner, id, "accept", &json!({})).await
    }

    pub async fn pickup(&self, runner: &Session, id: &str) -> TestResponse {
        self.step(runner, id, "pickup", &json!({})).await
    }

    pub async fn deliver(&self, runner: &Session, id: &str) -> TestResponse {
        self.step(runner, id, "deliver", &json!({})).await
    }

    pub async fn confirm(&self, owner: &Session, id: &str) -> TestResponse {
        self.step(owner, id, "confirm", &json!({})).await
    }

    /// Cancel with no reason.
    pub async fn cancel(&self, who: &Session, id: &str) -> TestResponse {
        self.step(who, id, "cancel", &json!({})).await
    }
}
