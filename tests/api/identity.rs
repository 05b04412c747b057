//! Identity (contract §2.1): every rule a Kilat app relies on.

use serde_json::json;

use crate::helpers::{session, spawn_app, spawn_app_with};

fn is_whole_second_utc(ts: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z') && !ts.contains('.') && ts.len() == 20
}

#[actix_web::test]
async fn register_returns_the_auth_response_shape() {
    let app = spawn_app().await;
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": "  Aisyah@Example.MY ", "phone": "+60123456789", "full_name": "Aisyah Rahman",
                    "password": "correct-horse", "role": "owner", "first_pet": {"name": "Milo"}}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let created_at = resp.body["data"]["user"]["created_at"].as_str().unwrap();
    assert!(is_whole_second_utc(created_at), "{created_at}");
    insta::assert_json_snapshot!("register_response", resp.body, {
        ".data.access_token" => "[jwt]",
        ".data.refresh_token" => "[jwt]",
        ".data.user.id" => "[uuid]",
        ".data.user.created_at" => "[timestamp]",
    });
}

#[actix_web::test]
async fn register_validation_names_the_problem() {
    let app = spawn_app().await;
    let base = json!({"email": "a@example.my", "full_name": "A", "password": "correct-horse", "role": "owner"});
    let cases = [
        (json!({"email": "not-an-email"}), "invalid email format: not-an-email"),
        (json!({"email": null}), "email is required"),
        (json!({"phone": "12-34"}), "invalid phone format: 12-34"),
        (json!({"password": "short"}), "password must be at least 8 characters"),
        (json!({"full_name": "   "}), "full_name is required"),
        (json!({"role": "admin"}), "role must be one of: owner, runner, shop"),
        (json!({"role": "driver"}), "role must be one of: owner, runner, shop"),
        (json!({"role": null}), "role is required"),
    ];
    for (patch, expected) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = app.post("/api/v1/auth/register", None, &body).await;
        assert_eq!(resp.status, 400, "{body}: {}", resp.text);
        assert_eq!(resp.body, json!({"success": false, "error": expected, "detail": ""}), "{body}");
    }
}

#[actix_web::test]
async fn owners_runners_and_shops_can_register() {
    let app = spawn_app().await;
    for role in ["owner", "runner", "shop"] {
        let s = app.register(&format!("{role}@example.my"), role).await;
        let profile = app.profile(&s).await;
        assert_eq!(profile.body["data"]["role"], role);
    }
}

#[actix_web::test]
async fn duplicate_email_is_409_whatever_the_case() {
    let app = spawn_app().await;
    app.register("dup@example.my", "owner").await;
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": "DUP@Example.my", "full_name": "B", "password": "correct-horse", "role": "runner"}),
        )
        .await;
    assert_eq!(resp.status, 409);
    assert_eq!(resp.body["error"], "User with email 'dup@example.my' already exists");
}

#[actix_web::test]
async fn login_is_case_insensitive_and_wrong_passwords_are_401() {
    let app = spawn_app().await;
    app.register("mixed@example.my", "owner").await;
    let ok = app.login("  MIXED@example.MY", "correct-horse").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["data"]["user"]["email"], "mixed@example.my");
    for (email, password) in [("mixed@example.my", "wrong-horse"), ("nobody@example.my", "correct-horse")] {
        let resp = app.login(email, password).await;
        assert_eq!(resp.status, 401);
        assert_eq!(resp.body, json!({"success": false, "error": "invalid email or password", "detail": ""}));
    }
    let resp = app.post("/api/v1/auth/login", None, &json!({"email": "mixed@example.my"})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("password is required")));
}

#[actix_web::test]
async fn access_token_claims_follow_the_contract() {
    let app = spawn_app().await;
    let s = app.register("claims@example.my", "runner").await;
    let payload = s.access.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&base64url(payload)).unwrap();
    assert_eq!(claims["sub"], s.user_id.as_str());
    assert_eq!(claims["user_id"], s.user_id.as_str());
    assert_eq!(claims["email"], "claims@example.my");
    assert_eq!(claims["role"], "runner");
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["iss"], "kilat-pet-runner");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
}

fn base64url(input: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in input.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_after_the_grace_ends_that_session_only() {
    let app = spawn_app_with(|s| s.auth.refresh_reuse_grace_secs = 1).await;
    let first = app.register("rotate@example.my", "owner").await;
    // The same user signed in on a phone: a second session.
    let phone = session(&app.login("rotate@example.my", "correct-horse").await.body);

    let resp = app.refresh(&first.refresh).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let second = session(&resp.body);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(resp.body["data"]["user"]["email"], "rotate@example.my");
    assert_eq!(app.profile(&second).await.status, 200);

    // Past the grace, the first token coming back is a theft signal.
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let reused = app.refresh(&first.refresh).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.body["error"], "refresh token is expired or revoked");

    // ...and that session died with it: its live successor and its access token.
    let successor = app.refresh(&second.refresh).await;
    assert_eq!(successor.status, 401);
    assert_eq!(successor.body["error"], "refresh token is expired or revoked");
    assert_eq!(app.profile(&second).await.status, 401);

    // The phone's session is another family: untouched.
    assert_eq!(app.profile(&phone).await.status, 200);
    let phone_refresh = app.refresh(&phone.refresh).await;
    assert_eq!(phone_refresh.status, 200, "{}", phone_refresh.text);
}

#[actix_web::test]
async fn two_tabs_refreshing_at_once_both_stay_signed_in() {
    let app = spawn_app().await;
    let s = app.register("race@example.my", "owner").await;
    let phone = session(&app.login("race@example.my", "correct-horse").await.body);
    let body = json!({"refresh_token": s.refresh});
    // Five tabs share one refresh token and refresh at the same moment.
    let attempts = (0..5).map(|_| app.post("/api/v1/auth/refresh", None, &body));
    let results = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200; 5], "{:?}", results.iter().map(|r| &r.text).collect::<Vec<_>>());
    // Every tab got a working pair in the same session, and can go on refreshing.
    for pair in results.iter().map(|r| session(&r.body)) {
        assert_eq!(app.profile(&pair).await.status, 200);
        let next = app.refresh(&pair.refresh).await;
        assert_eq!(next.status, 200, "{}", next.text);
    }
    // Nothing was treated as theft: the phone is still signed in.
    assert_eq!(app.profile(&phone).await.status, 200);
    let families = app.scalar("SELECT count(DISTINCT family_id) FROM refresh_tokens").await;
    assert_eq!(families, 2);
}

#[actix_web::test]
async fn refresh_rejects_garbage_access_tokens_and_unknown_tokens() {
    let app = spawn_app().await;
    let s = app.register("garbage@example.my", "owner").await;
    let cases = [
        (json!({"refresh_token": "garbage"}), 401, "invalid refresh token"),
        (json!({"refresh_token": s.access}), 401, "invalid refresh token"),
        (json!({}), 400, "refresh_token is required"),
    ];
    for (body, status, error) in cases {
        let resp = app.post("/api/v1/auth/refresh", None, &body).await;
        assert_eq!((resp.status, resp.body["error"].as_str()), (status, Some(error)), "{body}");
    }
    // A validly signed refresh token the store never saw.
    app.sql("DELETE FROM refresh_tokens").await;
    let resp = app.refresh(&s.refresh).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (401, Some("refresh token not found")));
}

#[actix_web::test]
async fn expired_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let s = app.register("expired@example.my", "owner").await;
    app.sql("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'").await;
    let resp = app.refresh(&s.refresh).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (401, Some("refresh token is expired or revoked")));
}

#[actix_web::test]
async fn logout_ends_this_session_and_not_the_other_devices() {
    let app = spawn_app().await;
    let web = app.register("logout@example.my", "owner").await;
    let phone = session(&app.login("logout@example.my", "correct-horse").await.body);
    let resp = app.post("/api/v1/auth/logout", Some(&web.access), &json!({})).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, json!({"success": true, "data": {"message": "logged out successfully"}}));
    // This session: refresh and access tokens dead.
    assert_eq!(app.refresh(&web.refresh).await.status, 401);
    let profile = app.profile(&web).await;
    assert_eq!(profile.status, 401);
    assert_eq!(profile.body, json!({"error": "invalid or expired token"}));
    // The phone keeps working.
    assert_eq!(app.profile(&phone).await.status, 200);
    assert_eq!(app.refresh(&phone.refresh).await.status, 200);
}

#[actix_web::test]
async fn logout_all_ends_every_session_of_the_user() {
    let app = spawn_app().await;
    let web = app.register("everywhere@example.my", "owner").await;
    let phone = session(&app.login("everywhere@example.my", "correct-horse").await.body);
    let other = app.register("bystander@example.my", "owner").await;
    let resp = app.post("/api/v1/auth/logout-all", Some(&web.access), &json!({})).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    for s in [&web, &phone] {
        assert_eq!(app.profile(s).await.status, 401);
        assert_eq!(app.refresh(&s.refresh).await.status, 401);
    }
    assert_eq!(app.profile(&other).await.status, 200);
    // Signing in again works.
    assert_eq!(app.login("everywhere@example.my", "correct-horse").await.status, 200);
}

#[actix_web::test]
async fn auth_middleware_errors_are_raw() {
    let app = spawn_app().await;
    let s = app.register("raw@example.my", "owner").await;
    let resp = app.get("/api/v1/auth/profile", None).await;
    assert_eq!((resp.status, resp.body.clone()), (401, json!({"error": "authorization header is required"})));
    let resp = app
        .client
        .get(format!("{}/api/v1/auth/profile", app.address))
        .insert_header(("Authorization", format!("Token {}", s.access)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = app.get("/api/v1/auth/profile", Some(&s.refresh)).await;
    assert_eq!((resp.status, resp.body.clone()), (401, json!({"error": "invalid or expired token"})));
    let resp = app.get("/api/v1/auth/profile", Some("not.a.jwt")).await;
    assert_eq!(resp.status, 401);
    // The scheme is case-insensitive.
    let resp = app
        .client
        .get(format!("{}/api/v1/auth/profile", app.address))
        .insert_header(("Authorization", format!("bEaReR {}", s.access)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn profile_update_validates_phone_and_keeps_blank_fields() {
    let app = spawn_app().await;
    let s = app.register("profile@example.my", "runner").await;
    let resp = app.put("/api/v1/auth/profile", Some(&s.access), &json!({"phone": "abc"})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("invalid phone format: abc")));
    let resp = app
        .put(
            "/api/v1/auth/profile",
            Some(&s.access),
            &json!({"full_name": "New Name", "phone": "+60198765432", "avatar_url": ""}),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["data"]["full_name"], "New Name");
    assert_eq!(resp.body["data"]["phone"], "+60198765432");
    assert_eq!(resp.body["data"]["avatar_url"], "");
    // Absent or "" leaves a field as it was.
    let resp = app.put("/api/v1/auth/profile", Some(&s.access), &json!({"full_name": ""})).await;
    assert_eq!(resp.body["data"]["full_name"], "New Name");
    let resp = app.profile(&s).await;
    assert_eq!(resp.body["data"]["phone"], "+60198765432");
    assert_eq!(resp.body["data"]["is_verified"], false);
}

#[actix_web::test]
async fn password_reset_round_trip() {
    let app = spawn_app().await;
    let s = app.register("forgot@example.my", "owner").await;

    // Always 202 with an empty body, known email or not.
    for email in ["Forgot@Example.my", "nobody@example.my", "not-an-email"] {
        let resp = app.post("/api/v1/auth/forgot-password", None, &json!({"email": email})).await;
        assert_eq!((resp.status, resp.text.as_str()), (202, ""), "{email}");
    }
    assert!(app.mailer.reset_tokens_for("nobody@example.my").is_empty());
    let tokens = app.mailer.reset_tokens_for("forgot@example.my");
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    assert_eq!(token.len(), 64);

    let short = app.post("/api/v1/auth/reset-password", None, &json!({"token": token, "newPassword": "short"})).await;
    assert_eq!((short.status, short.body["error"].as_str()), (400, Some("password must be at least 8 characters")));
    let bad =
        app.post("/api/v1/auth/reset-password", None, &json!({"token": "nope", "newPassword": "new-password"})).await;
    assert_eq!((bad.status, bad.body["error"].as_str()), (400, Some("invalid token")));

    let ok =
        app.post("/api/v1/auth/reset-password", None, &json!({"token": token, "newPassword": "new-password"})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["data"]["message"], "password reset successful");

    let again =
        app.post("/api/v1/auth/reset-password", None, &json!({"token": token, "newPassword": "other-password"})).await;
    assert_eq!((again.status, again.body["error"].as_str()), (400, Some("token already used")));

    assert_eq!(app.login("forgot@example.my", "correct-horse").await.status, 401);
    assert_eq!(app.login("forgot@example.my", "new-password").await.status, 200);
    // Sessions from before the reset are over.
    assert_eq!(app.profile(&s).await.status, 401);
    assert_eq!(app.refresh(&s.refresh).await.status, 401);
}

#[actix_web::test]
async fn expired_reset_tokens_are_refused() {
    let app = spawn_app().await;
    app.register("late@example.my", "owner").await;
    app.post("/api/v1/auth/forgot-password", None, &json!({"email": "late@example.my"})).await;
    let token = app.mailer.reset_tokens_for("late@example.my").pop().unwrap();
    app.sql("UPDATE password_reset_tokens SET expires_at = now() - interval '1 second'").await;
    let resp =
        app.post("/api/v1/auth/reset-password", None, &json!({"token": token, "newPassword": "new-password"})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("token expired")));
}

#[actix_web::test]
async fn passwords_and_tokens_are_stored_hashed() {
    let app = spawn_app().await;
    let s = app.register("hashed@example.my", "owner").await;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        token_hash: String,
    }
    let mut conn = app.db().await;
    let row: Row = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT u.password_hash, t.token_hash FROM users u JOIN refresh_tokens t ON t.user_id = u.id",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    assert!(row.password_hash.starts_with("$argon2id$"));
    assert_ne!(row.token_hash, s.refresh);
    assert_eq!(row.token_hash.len(), 64);
}
