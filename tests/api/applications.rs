//! Runner applications (contract §8.2): apply without an account, numbers
//! that are gap-free per year under concurrency, admin review, the
//! applicant mailed, and an approved email registering as a runner.

use chrono::Datelike;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

fn application(ic: &str, email: Option<&str>) -> Value {
    json!({
        "name": "Hafiz Ismail", "phone": "+60123456789", "email": email, "icNumber": ic,
        "vehicleType": "car", "plateNumber": "wxy 1234", "petExperience": ["dogs", "cats"],
        "comfortableWithLivePets": true, "consentAcknowledged": true
    })
}

fn ic(n: usize) -> String {
    format!("900101-14-{n:04}")
}

async fn apply(app: &TestApp, body: &Value) -> crate::helpers::TestResponse {
    app.post("/api/v1/runners/apply", None, body).await
}

fn number(year: i32, n: i32) -> String {
    format!("KR-{year}-{n:05}")
}

#[actix_web::test]
async fn anyone_applies_and_gets_the_years_next_number() {
    let app = spawn_app().await;
    let year = chrono::Utc::now().year();
    let first = apply(&app, &application(&ic(1), None)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body, json!({"success": true, "data": {"applicationId": number(year, 1)}}));
    let second = apply(&app, &application(&ic(2), Some("b@example.my"))).await;
    assert_eq!(second.body["data"]["applicationId"], number(year, 2));

    // the same IC number, however it is typed, applies once
    let again = apply(&app, &application("900101140001", None)).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.body["error"], "RunnerApplication with ic_number '900101-14-0001' already exists");

    let cases: Vec<(&str, Value, &str)> = vec![
        ("/vehicleType", json!("van"), "vehicleType must be one of: motorbike, car, bicycle"),
        ("/consentAcknowledged", json!(false), "consent must be acknowledged"),
        ("/name", json!(""), "name is required"),
        ("/icNumber", json!("12-34"), "icNumber must be 12 digits (YYMMDD-PB-NNNN)"),
        (
            "/petExperience",
            json!(["horses"]),
            "petExperience must be from: dogs, cats, birds, fish, small_pets, vet_trips",
        ),
        ("/email", json!("not-an-email"), "invalid email format: not-an-email"),
    ];
    for (pointer, value, error) in cases {
        let mut body = application(&ic(3), None);
        *body.pointer_mut(pointer).unwrap() = value;
        let resp = apply(&app, &body).await;
        assert_eq!(resp.status, 400, "{pointer}: {}", resp.text);
        assert_eq!(resp.body["error"], error, "{pointer}");
    }
    // refused ones took no number: the next is still the third
    let third = apply(&app, &application(&ic(3), None)).await;
    assert_eq!(third.body["data"]["applicationId"], number(year, 3));
}

#[actix_web::test]
async fn concurrent_applications_number_without_gaps() {
    let app = spawn_app_with(|s| s.rate_limit.auth_per_minute = 1000).await;
    let year = chrono::Utc::now().year();
    // 24 new IC numbers and 8 repeats of one already taken, all at once
    let taken = apply(&app, &application(&ic(100), None)).await;
    assert_eq!(taken.status, 201);
    let bodies: Vec<Value> =
        (0..32).map(|i| if i % 4 == 0 { application(&ic(100), None) } else { application(&ic(i), None) }).collect();
    let responses = futures_util::future::join_all(bodies.iter().map(|b| apply(&app, b))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 24, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 8, "{statuses:?}");
    let mut numbers: Vec<String> = responses
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["data"]["applicationId"].as_str().unwrap().to_owned())
        .collect();
    numbers.sort();
    let expected: Vec<String> = (2..=25).map(|n| number(year, n)).collect();
    assert_eq!(numbers, expected, "consecutive, none skipped by the refused repeats");
}

#[actix_web::test]
async fn an_admin_approves_or_rejects_and_the_applicant_is_mailed() {
    let app = spawn_app().await;
    let admin = app.admin("ra-admin@example.my").await;
    let owner = app.register("ra-owner@example.my", "owner").await;
    let a = apply(&app, &application(&ic(1), Some(" Hafiz@Example.MY "))).await.body["data"]["applicationId"].clone();
    let b = apply(&app, &application(&ic(2), Some("b@example.my"))).await.body["data"]["applicationId"].clone();
    let a = a.as_str().unwrap();
    let b = b.as_str().unwrap();

    let path = "/api/v1/admin/runner-applications";
    assert_eq!(app.get(path, Some(&owner.access)).await.status, 403, "admins only");
    let pending = app.get(&format!("{path}?status=pending_review"), Some(&admin.access)).await;
    assert_eq!(pending.status, 200, "{}", pending.text);
    assert_eq!(pending.body["pagination"]["total"], 2);
    assert_eq!(pending.body["data"][0]["applicationId"], b, "newest first");
    let first = &pending.body["data"][1];
    assert_eq!(first["email"], "hafiz@example.my");
    assert_eq!(first["icNumber"], "900101-14-0001");
    assert_eq!(first["plateNumber"], "WXY 1234");
    assert_eq!(first["status"], "pending_review");
    assert_eq!(app.get(&format!("{path}?status=maybe"), Some(&admin.access)).await.status, 400);

    let approved = app.post(&format!("{path}/{a}/approve"), Some(&admin.access), &json!({})).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.body["data"]["status"], "approved");
    assert_eq!(approved.body["data"]["reviewedBy"], admin.user_id.as_str());
    let again = app.post(&format!("{path}/{a}/approve"), Some(&admin.access), &json!({})).await;
    assert_eq!(again.status, 422, "{}", again.text);
    assert_eq!(app.post(&format!("{path}/{a}/approve"), Some(&owner.access), &json!({})).await.status, 403);

    // a reject needs a reason; by id as well as by number
    let b_id = pending.body["data"][0]["id"].as_str().unwrap().to_owned();
    let no_reason = app.post(&format!("{path}/{b_id}/reject"), Some(&admin.access), &json!({})).await;
    assert_eq!((no_reason.status, no_reason.body["error"].as_str()), (400, Some("reason is required")));
    let rejected =
        app.post(&format!("{path}/{b_id}/reject"), Some(&admin.access), &json!({"reason": "plate not verified"})).await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    assert_eq!(rejected.body["data"]["rejectReason"], "plate not verified");
    let missing = app.post(&format!("{path}/KR-1999-00001/approve"), Some(&admin.access), &json!({})).await;
    assert_eq!(missing.status, 404);

    let mails = app.mailer.decisions.lock().unwrap().clone();
    assert_eq!(
        mails,
        vec![
            ("hafiz@example.my".to_owned(), a.to_owned(), true, String::new()),
            ("b@example.my".to_owned(), b.to_owned(), false, "plate not verified".to_owned()),
        ]
    );
    let by_status = app.get(&format!("{path}?status=approved"), Some(&admin.access)).await;
    assert_eq!(by_status.body["pagination"]["total"], 1);
}

#[actix_web::test]
async fn with_vetting_on_only_an_approved_email_registers_as_a_runner() {
    let app = spawn_app_with(|s| s.marketplace.runner_signup_requires_approval = true).await;
    let admin = app.admin("rv-admin@example.my").await;
    let signup = |email: &str| json!({"email": email, "password": "correct-horse", "full_name": "Hafiz Ismail", "role": "runner"});
    let early = app.post("/api/v1/auth/register", None, &signup("hafiz@example.my")).await;
    assert_eq!(early.status, 403, "{}", early.text);
    assert_eq!(early.body["error"], "runner sign-up needs an approved runner application for this email");

    let applied = apply(&app, &application(&ic(7), Some("hafiz@example.my"))).await;
    let number = applied.body["data"]["applicationId"].as_str().unwrap().to_owned();
    let pending = app.post("/api/v1/auth/register", None, &signup("hafiz@example.my")).await;
    assert_eq!(pending.status, 403, "still pending review");
    let ok =
        app.post(&format!("/api/v1/admin/runner-applications/{number}/approve"), Some(&admin.access), &json!({})).await;
    assert_eq!(ok.status, 200);
    let registered = app.post("/api/v1/auth/register", None, &signup(" HAFIZ@example.my ")).await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    assert_eq!(registered.body["data"]["user"]["role"], "runner");
    // owners are not vetted
    app.register("rv-owner@example.my", "owner").await;
}
