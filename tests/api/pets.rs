//! Pet profiles on both paths (contract §2.3).

use serde_json::json;

use crate::fixtures::id;
use crate::helpers::spawn_app;

#[actix_web::test]
async fn crud_on_both_paths_with_soft_archive() {
    let app = spawn_app().await;
    let owner = app.register("petowner@example.my", "owner").await;
    let t = Some(owner.access.as_str());

    let resp = app
        .post(
            "/api/v1/users/me/pets",
            t,
            &json!({"name": "Buddy", "pet_type": "Dog", "breed": "Beagle", "weight_kg": 12, "age_months": 24}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let buddy = resp.body["data"].clone();
    assert_eq!(buddy["pet_type"], "dog");
    assert_eq!(buddy["status"], "active");
    insta::assert_json_snapshot!("pet", resp.body, {
        ".data.id" => "[uuid]", ".data.owner_id" => "[uuid]", ".data.created_at" => "[timestamp]", ".data.updated_at" => "[timestamp]",
    });
    let resp = app.post("/api/v1/pets", t, &json!({"name": "Milo", "pet_type": "cat"})).await;
    let milo = resp.body["data"].clone();

    // Both paths list the same pets, newest first.
    for path in ["/api/v1/pets", "/api/v1/users/me/pets"] {
        let list = app.get(path, t).await;
        let names: Vec<&str> =
            list.body["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Milo", "Buddy"], "{path}");
    }

    // "" and 0 leave fields unchanged.
    let resp =
        app.put(&format!("/api/v1/pets/{}", id(&buddy)), t, &json!({"name": "", "weight_kg": 0, "notes": "shy"})).await;
    assert_eq!(resp.body["data"]["name"], "Buddy");
    assert_eq!(resp.body["data"]["weight_kg"], 12.0);
    assert_eq!(resp.body["data"]["notes"], "shy");

    let resp = app.request("DELETE", &format!("/api/v1/pets/{}", id(&milo)), t, None).await;
    assert_eq!(resp.body["data"]["message"], "pet profile archived");
    let list = app.get("/api/v1/pets", t).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    let archived = app.get(&format!("/api/v1/users/me/pets/{}", id(&milo)), t).await;
    assert_eq!(archived.body["data"]["status"], "archived");
}

#[actix_web::test]
async fn pet_validation() {
    let app = spawn_app().await;
    let owner = app.register("validate@example.my", "owner").await;
    let t = Some(owner.access.as_str());
    let cases = [
        (json!({"pet_type": "dog"}), "name is required"),
        (json!({"name": "Rex"}), "pet_type is required"),
        (
            json!({"name": "Rex", "pet_type": "hamster"}),
            "pet_type must be one of: cat, dog, bird, rabbit, reptile, other",
        ),
        (json!({"name": "Rex", "pet_type": "dog", "weight_kg": -3}), "weight_kg must be between 0 and 500"),
    ];
    for (body, error) in cases {
        let resp = app.post("/api/v1/pets", t, &body).await;
        assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some(error)), "{body}");
    }
    let resp = app.get("/api/v1/pets/not-a-uuid", t).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("invalid pet ID")));
    let missing = uuid::Uuid::new_v4();
    let resp = app.get(&format!("/api/v1/pets/{missing}"), t).await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.body["error"], "Pet not found");
}
