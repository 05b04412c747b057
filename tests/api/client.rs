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

/// Typed requests for identity, runners and admin.
impl TestApp {
    /// `GET /auth/profile` as `who`.
    pub async fn profile(&self, who: &Session) -> TestResponse {
        self.get("/api/v1/auth/profile", Some(&who.access)).await
    }

    /// `POST /auth/refresh` with `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.post("/api/v1/auth/refresh", None, &json!({"refresh_token": refresh_token})).await
    }

    /// `POST /runners/me/offline` as `runner`.
    pub async fn go_offline(&self, runner: &Session) -> TestResponse {
        self.post("/api/v1/runners/me/offline", Some(&runner.access), &json!({})).await
    }

    /// `POST /admin/users/{id}/ban` as `admin`.
    pub async fn ban(&self, admin: &Session, user_id: &str) -> TestResponse {
        self.post(&format!("/api/v1/admin/users/{user_id}/ban"), Some(&admin.access), &json!({})).await
    }
}
