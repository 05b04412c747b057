//! Pet shops: listed to everyone, written by their shop user.

use super::DbError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Double, Integer};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::schema::pet_shops;
use crate::domain::geo::Coordinates;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = pet_shops, check_for_backend(diesel::pg::Pg))]
pub struct PetShop {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub name: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub phone: String,
    pub email: String,
    pub category: String,
    pub services: Vec<Option<String>>,
    pub rating: f64,
    pub image_url: String,
    pub opening_hours: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, Insertable, AsChangeset)]
#[diesel(table_name = pet_shops)]
pub struct ShopFields {
    pub name: Option<String>,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub category: Option<String>,
    pub services: Option<Vec<Option<String>>>,
    pub image_url: Option<String>,
    pub opening_hours: Option<String>,
    pub description: Option<String>,
}

impl ShopFields {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.address.is_none()
            && self.latitude.is_none()
            && self.longitude.is_none()
            && self.phone.is_none()
            && self.email.is_none()
            && self.category.is_none()
            && self.services.is_none()
            && self.image_url.is_none()
            && self.opening_hours.is_none()
            && self.description.is_none()
    }
}

pub async fn create(conn: &mut Conn, owner_id: Uuid, fields: ShopFields) -> Result<PetShop, DbError> {
    Ok(diesel::insert_into(pet_shops::table)
        .values((pet_shops::id.eq(super::new_id()), pet_shops::owner_id.eq(Some(owner_id)), fields))
        .returning(PetShop::as_returning())
        .get_result(conn)
        .await?)
}

/// `rating DESC, name ASC`, at most 50, optionally one category.
pub async fn list(conn: &mut Conn, category: Option<&str>) -> Result<Vec<PetShop>, DbError> {
    let mut query = pet_shops::table.select(PetShop::as_select()).into_boxed();
    if let Some(category) = category {
        query = query.filter(pet_shops::category.eq(category.to_owned()));
    }
    Ok(query.order((pet_shops::rating.desc(), pet_shops::name.asc())).limit(50).load(conn).await?)
}

pub async fn mine(conn: &mut Conn, owner_id: Uuid) -> Result<Vec<PetShop>, DbError> {
    Ok(pet_shops::table
        .filter(pet_shops::owner_id.eq(owner_id))
        .order((pet_shops::created_at.desc(), pet_shops::id.desc()))
        .select(PetShop::as_select())
        .load(conn)
        .await?)
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<Option<PetShop>, DbError> {
    Ok(pet_shops::table.find(id).select(PetShop::as_select()).first(conn).await.optional()?)
}

pub async fn update(conn: &mut Conn, id: Uuid, fields: ShopFields) -> Result<PetShop, DbError> {
    if fields.is_empty() {
        return find(conn, id).await?.ok_or_else(|| DbError::not_found("petShop", id));
    }
    Ok(diesel::update(pet_shops::table.find(id))
        .set((fields, pet_shops::updated_at.eq(Utc::now())))
        .returning(PetShop::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut Conn, id: Uuid) -> Result<(), DbError> {
    diesel::delete(pet_shops::table.find(id)).execute(conn).await?;
    Ok(())
}

/// Nearest first within `radius_km`, at most `limit` (KNN on the GiST index).
pub async fn nearby(conn: &mut Conn, at: Coordinates, radius_km: f64, limit: i32) -> Result<Vec<PetShop>, DbError> {
    Ok(diesel::sql_query(
        "WITH here AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS g) \
         SELECT s.* FROM pet_shops s, here \
         WHERE ST_DWithin(s.location, here.g, $3 * 1000.0) \
         ORDER BY s.location <-> here.g \
         LIMIT $4",
    )
    .bind::<Double, _>(at.latitude)
    .bind::<Double, _>(at.longitude)
    .bind::<Double, _>(radius_km)
    .bind::<Integer, _>(limit)
    .load(conn)
    .await?)
}
