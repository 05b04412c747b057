//! Pet shops (contract §2.9, §4.14).

use serde_json::json;

use crate::fixtures::id;
use crate::helpers::spawn_app;

#[actix_web::test]
async fn the_seven_seed_shops_are_there_best_rated_first() {
    let app = spawn_app().await;
    let s = app.register("browser@example.my", "owner").await;
    let resp = app.get("/api/v1/petshops", Some(&s.access)).await;
    let shops = resp.body["data"].as_array().unwrap();
    assert_eq!(shops.len(), 7);
    assert_eq!(shops[0]["name"], "Meow Manor Cat Hotel");
    assert_eq!(shops[0]["owner_id"], json!(null));
    assert_eq!(shops[0]["services"], json!([]));
    let vets = app.get("/api/v1/petshops?category=vet", Some(&s.access)).await;
    let names: Vec<&str> = vets.body["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Furry Friends Vet", "KL Pet Clinic"]);
    let bad = app.get("/api/v1/petshops?category=spa", Some(&s.access)).await;
    assert_eq!(bad.status, 400);

    // Nearest first from Mid Valley: Pet Paradise Store is next door.
    let near = app.get("/api/v1/petshops/nearby?latitude=3.1178&longitude=101.6776&radius_km=3", Some(&s.access)).await;
    let names: Vec<&str> = near.body["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names.first(), Some(&"Pet Paradise Store"));
    assert!(!names.contains(&"KL Pet Clinic"), "{names:?}");
}

#[actix_web::test]
async fn shop_users_manage_their_own_shops() {
    let app = spawn_app().await;
    let shop = app.register("groomer@example.my", "shop").await;
    let rival = app.register("rival@example.my", "shop").await;
    let owner = app.register("customer@example.my", "owner").await;
    let body = json!({"name": "Fluffy Cuts", "address": "Jalan Telawi, Bangsar", "latitude": 3.1319, "longitude": 101.6710,
                      "category": "grooming", "services": ["bath", "trim"], "opening_hours": "9-6", "phone": "+60312345678"});
    let resp = app.post("/api/v1/petshops", Some(&shop.access), &body).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let created = resp.body["data"].clone();
    assert_eq!(created["rating"], 0.0);
    assert_eq!(created["owner_id"], shop.user_id.as_str());
    let path = format!("/api/v1/petshops/{}", id(&created));

    let mine = app.get("/api/v1/petshops/mine", Some(&shop.access)).await;
    assert_eq!(mine.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/api/v1/petshops/mine", Some(&rival.access)).await.body["data"], json!([]));

    let resp =
        app.put(&path, Some(&shop.access), &json!({"description": "Best cuts", "name": "", "latitude": 0})).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["data"]["name"], "Fluffy Cuts");
    assert_eq!(resp.body["data"]["description"], "Best cuts");
    let resp = app.put(&path, Some(&shop.access), &json!({"category": "spa"})).await;
    assert_eq!(resp.status, 400);

    let resp = app.put(&path, Some(&rival.access), &json!({"name": "Mine now"})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (403, Some("you do not own this pet shop")));
    let resp = app.post("/api/v1/petshops", Some(&owner.access), &body).await;
    assert_eq!(resp.status, 403);

    let resp = app.request("DELETE", &path, Some(&shop.access), None).await;
    assert_eq!(resp.body["data"]["message"], "pet shop deleted");
    let gone = app.get(&path, Some(&owner.access)).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body, json!({"success": false, "error": "not found", "detail": ""}));
    let resp = app.put(&path, Some(&shop.access), &json!({"name": "x"})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (404, Some("PetShop not found")));
    let bad = app.get("/api/v1/petshops/xyz", Some(&owner.access)).await;
    assert_eq!((bad.status, bad.body["error"].as_str()), (400, Some("invalid pet shop ID")));
}

#[actix_web::test]
async fn shop_creation_validation() {
    let app = spawn_app().await;
    let shop = app.register("strict@example.my", "shop").await;
    let base = json!({"name": "A", "address": "B", "latitude": 3.1, "longitude": 101.7, "category": "vet"});
    let cases = [
        ("name", json!(null), "name is required"),
        ("latitude", json!(0), "invalid latitude"),
        ("longitude", json!(200), "invalid longitude"),
        ("category", json!("zoo"), "category must be one of: grooming, vet, boarding, pet_store"),
        ("opening_hours", json!("x".repeat(101)), "opening_hours must be at most 100 characters"),
        ("email", json!("nope"), "invalid email format: nope"),
    ];
    for (field, value, error) in cases {
        let mut body = base.clone();
        body[field] = value;
        let resp = app.post("/api/v1/petshops", Some(&shop.access), &body).await;
        assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some(error)), "{field}");
    }
}
