//! Admin identity routes (contract §2.10) and bans (§7 #9).

use serde_json::json;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn only_admins_reach_admin_routes() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.my").await;
    for role in ["owner", "runner", "shop"] {
        let s = app.register(&format!("{role}@example.my"), role).await;
        for path in ["/api/v1/admin/users", "/api/v1/admin/stats/users", &format!("/api/v1/admin/users/{}", s.user_id)]
        {
            let resp = app.get(path, Some(&s.access)).await;
            assert_eq!(
                (resp.status, resp.body.clone()),
                (403, json!({"error": "insufficient permissions"})),
                "{role} {path}"
            );
        }
    }
    assert_eq!(app.get("/api/v1/admin/users", None).await.status, 401);
    assert_eq!(app.get("/api/v1/admin/users", Some(&admin.access)).await.status, 200);
}

#[actix_web::test]
async fn admin_create_makes_an_admin_and_refuses_duplicates() {
    let app = spawn_app().await;
    let admin = app.admin("boss@example.my").await;
    let profile = app.profile(&admin).await;
    assert_eq!(profile.body["data"]["role"], "admin");
    let again = kilat::app::create_admin(&app.settings, "BOSS@example.my", "another-password", "X").await;
    assert!(again.unwrap_err().to_string().contains("already exists"));
    let weak = kilat::app::create_admin(&app.settings, "weak@example.my", "short", "X").await;
    assert!(weak.is_err());
}

#[actix_web::test]
async fn users_list_is_paginated_newest_first() {
    let app = spawn_app().await;
    let admin = app.admin("lister@example.my").await;
    for i in 0..4 {
        app.register(&format!("user{i}@example.my"), "owner").await;
    }
    let resp = app.get("/api/v1/admin/users?page=1&limit=2", Some(&admin.access)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["pagination"], json!({"total": 5, "page": 1, "limit": 2, "total_pages": 3}));
    let emails: Vec<&str> =
        resp.body["data"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["user3@example.my", "user2@example.my"]);
    // out-of-range limit falls back to 20
    let resp = app.get("/api/v1/admin/users?limit=500", Some(&admin.access)).await;
    assert_eq!(resp.body["pagination"]["limit"], 20);
    let resp = app.get("/api/v1/admin/users?page=abc", Some(&admin.access)).await;
    assert_eq!(resp.status, 400);
}

#[actix_web::test]
async fn get_user_validates_the_id() {
    let app = spawn_app().await;
    let admin = app.admin("getter@example.my").await;
    let owner = app.register("someone@example.my", "owner").await;
    let resp = app.get(&format!("/api/v1/admin/users/{}", owner.user_id), Some(&admin.access)).await;
    assert_eq!(resp.body["data"]["email"], "someone@example.my");
    let resp = app.get("/api/v1/admin/users/not-a-uuid", Some(&admin.access)).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body, json!({"success": false, "error": "invalid user ID", "detail": ""}));
    let missing = uuid::Uuid::new_v4();
    let resp = app.get(&format!("/api/v1/admin/users/{missing}"), Some(&admin.access)).await;
    assert_eq!(resp.status, 404);
    assert_eq!(
        resp.body,
        json!({"success": false, "error": "User not found", "detail": format!("User with id '{missing}' was not found")})
    );
}

#[actix_web::test]
async fn a_ban_blocks_login_refresh_and_live_tokens() {
    let app = spawn_app().await;
    let admin = app.admin("judge@example.my").await;
    let runner = app.register("banned@example.my", "runner").await;
    assert_eq!(app.profile(&runner).await.status, 200);

    let resp = app.ban(&admin, &runner.user_id).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["data"]["message"], "user banned successfully");

    let live = app.profile(&runner).await;
    assert_eq!((live.status, live.body.clone()), (401, json!({"error": "invalid or expired token"})));
    let login = app.login("banned@example.my", "correct-horse").await;
    assert_eq!((login.status, login.body["error"].as_str()), (403, Some("account is banned")));
    // A wrong password does not reveal the ban.
    assert_eq!(app.login("banned@example.my", "wrong-horse").await.status, 401);
    let refresh = app.refresh(&runner.refresh).await;
    assert_eq!(refresh.status, 401);
    let user = app.get(&format!("/api/v1/admin/users/{}", runner.user_id), Some(&admin.access)).await;
    assert_eq!(user.body["data"]["is_verified"], false);
    // No reset mail for a banned account either.
    app.post("/api/v1/auth/forgot-password", None, &json!({"email": "banned@example.my"})).await;
    assert!(app.mailer.reset_tokens_for("banned@example.my").is_empty());
}

#[actix_web::test]
async fn ban_errors() {
    let app = spawn_app().await;
    let admin = app.admin("careful@example.my").await;
    let resp =
        app.post(&format!("/api/v1/admin/users/{}/ban", uuid::Uuid::new_v4()), Some(&admin.access), &json!({})).await;
    assert_eq!(resp.status, 404);
    let resp = app.ban(&admin, &admin.user_id).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("you cannot ban yourself")));
    let resp = app.post("/api/v1/admin/users/xyz/ban", Some(&admin.access), &json!({})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("invalid user ID")));
}

#[actix_web::test]
async fn user_stats_count_every_role() {
    let app = spawn_app().await;
    let admin = app.admin("counter@example.my").await;
    app.register("o1@example.my", "owner").await;
    app.register("o2@example.my", "owner").await;
    app.register("r1@example.my", "runner").await;
    let resp = app.get("/api/v1/admin/stats/users", Some(&admin.access)).await;
    assert_eq!(
        resp.body["data"],
        json!({"total_users": 4, "by_role": {"owner": 2, "runner": 1, "admin": 1, "shop": 0}})
    );
}
