//! The authorization matrix (contract §4.15): for every booking, pet and
//! shop route, each of {owner, other owner, assigned runner, other runner,
//! shop, admin, anonymous} gets the right status.

use serde_json::{Value, json};

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, spawn_app};

struct Cast {
    owner: Session,
    other_owner: Session,
    runner: Session,
    other_runner: Session,
    shop: Session,
    admin: Session,
}

const WHO: [&str; 7] = ["owner", "other_owner", "runner", "other_runner", "shop", "admin", "anonymous"];

impl Cast {
    async fn new(app: &TestApp) -> Self {
        Self {
            owner: app.register("m-owner@example.my", "owner").await,
            other_owner: app.register("m-other-owner@example.my", "owner").await,
            runner: ready_runner(app, "m-runner@example.my", dog_crate(), PICKUP).await,
            other_runner: ready_runner(app, "m-other-runner@example.my", dog_crate(), PICKUP).await,
            shop: app.register("m-shop@example.my", "shop").await,
            admin: app.admin("m-admin@example.my").await,
        }
    }

    fn token(&self, who: &str) -> Option<&str> {
        Some(match who {
            "owner" => &self.owner.access,
            "other_owner" => &self.other_owner.access,
            "runner" => &self.runner.access,
            "other_runner" => &self.other_runner.access,
            "shop" => &self.shop.access,
            "admin" => &self.admin.access,
            _ => return None,
        })
    }
}

/// Runs `method path` as each actor and compares with `expected` (in WHO order).
async fn check(app: &TestApp, cast: &Cast, method: &str, path: &str, body: Option<&Value>, expected: [u16; 7]) {
    let mut got = [0u16; 7];
    for (i, who) in WHO.iter().enumerate() {
        got[i] = app.request(method, path, cast.token(who), body).await.status;
    }
    assert_eq!(got, expected, "{method} {path} as {WHO:?}");
}

#[actix_web::test]
async fn booking_routes() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    let booking = book(&app, &cast.owner, &worked_example()).await;
    let path = format!("/api/v1/bookings/{}", id(&booking));

    // While open: any runner may read it, other people may not.
    check(&app, &cast, "GET", &path, None, [200, 403, 200, 200, 403, 200, 401]).await;

    let accepted = app.post(&format!("{path}/accept"), cast.token("runner"), &json!({})).await;
    assert_eq!(accepted.status, 200);

    // reads: participants only (owner, assigned runner, admin)
    for sub in ["", "/history", "/photos"] {
        check(&app, &cast, "GET", &format!("{path}{sub}"), None, [200, 403, 200, 403, 403, 200, 401]).await;
    }
    // accept: runners only; the loser gets 409, the holder 422
    check(&app, &cast, "POST", &format!("{path}/accept"), Some(&json!({})), [403, 403, 422, 409, 403, 403, 401]).await;
    // deliver before pickup: only the assigned runner reaches the state machine
    check(&app, &cast, "POST", &format!("{path}/deliver"), Some(&json!({})), [403, 403, 422, 403, 403, 403, 401]).await;
    // confirm: the owning owner only (the state is wrong for now: 422)
    check(&app, &cast, "POST", &format!("{path}/confirm"), Some(&json!({})), [422, 403, 403, 403, 403, 403, 401]).await;
    // photo: the assigned runner only
    let photo = json!({"photo_type": "pickup", "photo_url": "https://x/p.jpg"});
    check(&app, &cast, "POST", &format!("{path}/photo"), Some(&photo), [403, 403, 201, 403, 403, 403, 401]).await;
    // rebook: the owning owner only (creates a new booking)
    check(&app, &cast, "POST", &format!("{path}/rebook"), Some(&json!({})), [201, 403, 403, 403, 403, 403, 401]).await;
    // decline: the assigned runner only; check the others without taking the job back
    let decline = json!({"reason": "other"});
    for (who, status) in
        [("owner", 403), ("other_owner", 403), ("other_runner", 403), ("shop", 403), ("admin", 403), ("anonymous", 401)]
    {
        let resp = app.request("POST", &format!("{path}/decline"), cast.token(who), Some(&decline)).await;
        assert_eq!(resp.status, status, "decline as {who}");
    }
    // pickup: the assigned runner only
    for (who, status) in
        [("owner", 403), ("other_owner", 403), ("other_runner", 403), ("shop", 403), ("admin", 403), ("anonymous", 401)]
    {
        let resp = app.request("POST", &format!("{path}/pickup"), cast.token(who), Some(&json!({}))).await;
        assert_eq!(resp.status, status, "pickup as {who}");
    }
    assert_eq!(app.post(&format!("{path}/pickup"), cast.token("runner"), &json!({})).await.status, 200);
    // cancel: owner, assigned runner and admin; check the others first
    for (who, status) in [("other_owner", 403), ("other_runner", 403), ("shop", 403), ("anonymous", 401)] {
        let resp = app.request("POST", &format!("{path}/cancel"), cast.token(who), Some(&json!({}))).await;
        assert_eq!(resp.status, status, "cancel as {who}");
    }
    for who in ["owner", "runner", "admin"] {
        let b = book(&app, &cast.owner, &worked_example()).await;
        let p = format!("/api/v1/bookings/{}", id(&b));
        if who == "runner" {
            app.post(&format!("{p}/accept"), cast.token("runner"), &json!({})).await;
        }
        let resp = app.request("POST", &format!("{p}/cancel"), cast.token(who), Some(&json!({}))).await;
        assert_eq!(resp.status, 200, "cancel as {who}: {}", resp.text);
    }
    // Nobody else's bookings leak through the list.
    let list = app.get("/api/v1/bookings", cast.token("other_owner")).await;
    assert_eq!(list.body["data"], json!([]));
    let list = app.get("/api/v1/bookings", cast.token("other_runner")).await;
    assert_eq!(list.body["data"], json!([]));
}

#[actix_web::test]
async fn pet_routes() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    let pet = app.post("/api/v1/pets", cast.token("owner"), &json!({"name": "Buddy", "pet_type": "dog"})).await;
    let path = format!("/api/v1/pets/{}", id(&pet.body["data"]));
    // pets are owner-only: other roles fail the role gate, other owners the ownership check
    check(&app, &cast, "GET", &path, None, [200, 403, 403, 403, 403, 403, 401]).await;
    check(&app, &cast, "PUT", &path, Some(&json!({"notes": "x"})), [200, 403, 403, 403, 403, 403, 401]).await;
    check(&app, &cast, "GET", "/api/v1/pets", None, [200, 200, 403, 403, 403, 403, 401]).await;
    check(&app, &cast, "GET", "/api/v1/users/me/pets", None, [200, 200, 403, 403, 403, 403, 401]).await;
    check(&app, &cast, "DELETE", &path, None, [200, 403, 403, 403, 403, 403, 401]).await;
    // the other owner's list never shows it
    let list = app.get("/api/v1/pets", cast.token("other_owner")).await;
    assert_eq!(list.body["data"], json!([]));
}

#[actix_web::test]
async fn shop_routes() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    let rival = app.register("m-rival-shop@example.my", "shop").await;
    let body = json!({"name": "Matrix Vet", "address": "KL", "latitude": 3.15, "longitude": 101.7, "category": "vet"});
    let created = app.post("/api/v1/petshops", cast.token("shop"), &body).await;
    let path = format!("/api/v1/petshops/{}", id(&created.body["data"]));
    check(&app, &cast, "GET", &path, None, [200, 200, 200, 200, 200, 200, 401]).await;
    check(&app, &cast, "GET", "/api/v1/petshops", None, [200, 200, 200, 200, 200, 200, 401]).await;
    check(&app, &cast, "GET", "/api/v1/petshops/mine", None, [403, 403, 403, 403, 200, 403, 401]).await;
    check(&app, &cast, "POST", "/api/v1/petshops", Some(&body), [403, 403, 403, 403, 201, 403, 401]).await;
    check(&app, &cast, "PUT", &path, Some(&json!({"name": "Renamed"})), [403, 403, 403, 403, 200, 403, 401]).await;
    let resp = app.put(&path, Some(&rival.access), &json!({"name": "Stolen"})).await;
    assert_eq!(resp.status, 403, "another shop user");
    let resp = app.request("DELETE", &path, Some(&rival.access), None).await;
    assert_eq!(resp.status, 403);
    check(&app, &cast, "DELETE", &path, None, [403, 403, 403, 403, 200, 403, 401]).await;
}
